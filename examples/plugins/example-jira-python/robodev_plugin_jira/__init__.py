"""robodev-plugin-jira: Jira issues as robodev tickets (see __main__)."""
