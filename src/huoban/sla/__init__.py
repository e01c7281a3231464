"""SLA: working-time calendars (calendar.py, builtin.py), policies, clocks, sweeps and escalation."""

from huoban.sla.calendar import CalendarError, WorkCalendar, add_working_time, working_intervals, working_seconds

__all__ = ["CalendarError", "WorkCalendar", "add_working_time", "working_intervals", "working_seconds"]
