"""The Subsonic API's browsing: album lists, an album with its songs in list order, artists, songs."""

from albums_core import bootstrap
from albums_core.http.subsonic import subsonic_app
from albums_core.http.web import lambda_entry

authenticator = bootstrap.subsonic_auth
catalogue = bootstrap.subsonic_catalogue

app = subsonic_app(
    {
        "getAlbumList2": (
            lambda u, p: catalogue().get_album_list2(u, p),
            "`type` alphabeticalByName, alphabeticalByArtist, newest, recent, frequent, random or byYear (empty); "
            "`size` (at most 500) and `offset`.",
        ),
        "getAlbumList": (lambda u, p: catalogue().get_album_list(u, p), "As getAlbumList2, in the older shape."),
        "getAlbum": (lambda u, p: catalogue().get_album(u, p), "An album and its songs, in its list record's order."),
        "getArtists": (lambda u, p: catalogue().get_artists(u, p), "The artists with albums, by first letter."),
        "getArtist": (lambda u, p: catalogue().get_artist(u, p), "An artist and their albums."),
        "getSong": (lambda u, p: catalogue().get_song(u, p), "One song of an album."),
    },
    lambda: authenticator().authenticate,
)

lambda_handler = lambda_entry(app, accepts=(), cookie_sessions=False)
