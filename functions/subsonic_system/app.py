"""The Subsonic API's system methods: ping, getLicense, getMusicFolders, getOpenSubsonicExtensions."""

from albums_core import bootstrap
from albums_core.http.subsonic import subsonic_app
from albums_core.http.web import lambda_entry
from albums_core.services import subsonic

authenticator = bootstrap.subsonic_auth

app = subsonic_app(
    {
        "ping": (subsonic.ping, "Checks the server and the credentials."),
        "getLicense": (subsonic.get_license, "Always valid."),
        "getMusicFolders": (subsonic.get_music_folders, "One folder: the albums."),
        "getOpenSubsonicExtensions": (subsonic.get_open_subsonic_extensions, "apiKeyAuthentication and formPost."),
    },
    lambda: authenticator().authenticate,
)

lambda_handler = lambda_entry(app, accepts=(), cookie_sessions=False)
