"""Where the web app keeps state: only the signed-in person's session, in an
encrypted cookie (the app owns no domain data and no database)."""

from web.store.sessions import Session, SessionCookie

__all__ = ["Session", "SessionCookie"]
