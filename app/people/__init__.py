"""People: user accounts, roles, passwords, API tokens and sessions; who acts (``Actor``); the
API's bearer-token check; signing in and out; user administration."""
