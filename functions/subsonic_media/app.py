"""The Subsonic API's media: cover art, stream and download (302 to where they are), scrobble."""

from albums_core import bootstrap
from albums_core.http.subsonic import subsonic_app
from albums_core.http.web import lambda_entry

authenticator = bootstrap.subsonic_auth
catalogue = bootstrap.subsonic_catalogue

app = subsonic_app(
    {
        "getCoverArt": (
            lambda u, p: catalogue().get_cover_art(u, p),
            "302 to the cover of an album, song or artist (`id`); the thumbnail for a `size` up to 300.",
        ),
        "stream": (
            lambda u, p: catalogue().stream(u, p),
            "302 to the song's audio (error 50 for a supporters-only song).",
        ),
        "download": (lambda u, p: catalogue().stream(u, p), "As stream."),
        "scrobble": (
            lambda u, p: catalogue().scrobble(u, p),
            "Counts a play (`submission` true, the default) once per user, song and `time` to the second.",
        ),
    },
    lambda: authenticator().authenticate,
)

lambda_handler = lambda_entry(app, accepts=(), cookie_sessions=False)
