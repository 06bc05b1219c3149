//! `rosy launch`: start the nodes a launch.yaml describes and supervise them.
