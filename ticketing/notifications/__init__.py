"""Notification mail: rendering a notice into a threaded message and delivering it by SMTP."""
