//! Input that cannot cross, counted: a ROS 2 sample that does not decode as its topic's type
//! (a malformed CDR payload, a type mismatch), a rosy message that does not convert. The first
//! of a route is logged as a warning naming the topic and type, later ones at debug level, so
//! a bad publisher cannot flood the log; each is skipped and the bridge carries on.

/// Unreadable ROS 2 samples of one route.
pub(crate) struct BadSamples {
    what: String,
    count: u64,
}

impl BadSamples {
    /// For samples of ROS 2 topic `topic`, expected to be `type_name`.
    pub fn new(topic: &str, type_name: impl std::fmt::Display) -> BadSamples {
        BadSamples {
            what: format!("ROS 2 {topic}: a sample could not be read as {type_name}"),
            count: 0,
        }
    }

    /// Notes one skipped sample and why.
    pub fn skip(&mut self, error: &dyn std::fmt::Display) {
        self.count += 1;
        if self.count == 1 {
            tracing::warn!(
                "{}, skipped (further ones are logged at debug level): {error}",
                self.what
            );
        } else {
            tracing::debug!("{} ({} so far), skipped: {error}", self.what, self.count);
        }
    }
}

/// rosy messages of one route that cannot be converted to its ROS 2 type.
pub(crate) struct BadMessages(BadSamples);

impl BadMessages {
    /// For messages of rosy topic `topic`, going to ROS 2 as `type_name`.
    pub fn new(topic: &str, type_name: impl std::fmt::Display) -> BadMessages {
        BadMessages(BadSamples {
            what: format!("rosy {topic}: a message could not be converted to {type_name}"),
            count: 0,
        })
    }

    /// Notes one skipped message and why.
    pub fn skip(&mut self, error: &dyn std::fmt::Display) {
        self.0.skip(error)
    }
}
