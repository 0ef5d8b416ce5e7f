"""Process management: listeners, worker processes and their supervisor, reload, logging set-up
and the configuration file.
"""
