"""The original rosy README's four demos: ``python -m rosy.demo.topic_listener`` etc."""
