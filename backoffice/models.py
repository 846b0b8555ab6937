"""No tables of its own: post_migrate (the roles) is only sent to apps with a models module."""
