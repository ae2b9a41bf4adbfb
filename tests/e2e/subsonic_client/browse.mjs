// Browses and plays an album of the albums service with the subsonic-api npm client:
//   node browse.mjs <api base url> <handle> <developer token>
// Prints one JSON object of what it saw; exits non-zero when a call throws.
import { SubsonicAPI } from "subsonic-api";

const [url, username, token] = process.argv.slice(2);
const byToken = new SubsonicAPI({ url, auth: { username, password: token } });
const byForm = new SubsonicAPI({ url, auth: { username, password: token }, post: true });
const byKey = new SubsonicAPI({ url, auth: { apiKey: token } });
const out = {};

out.ping = (await byToken.ping()).status;
out.pingPost = (await byForm.ping()).status;
out.pingApiKey = (await byKey.ping()).status;
out.extensions = (await byKey.getOpenSubsonicExtensions()).openSubsonicExtensions.map((e) => e.name);
const list = (await byToken.getAlbumList2({ type: "alphabeticalByName", size: 500 })).albumList2.album ?? [];
out.albums = list.map((a) => ({ id: a.id, name: a.name, artist: a.artist, songCount: a.songCount }));
const paged = [];
for (let offset = 0; offset < list.length + 2; offset += 2) {
  const page = await byForm.getAlbumList2({ type: "alphabeticalByName", size: 2, offset });
  paged.push(...(page.albumList2.album ?? []).map((a) => a.id));
}
out.paged = paged;
const album = (await byToken.getAlbum({ id: list[0].id })).album;
out.album = { id: album.id, name: album.name, songs: album.song.map((s) => ({ id: s.id, title: s.title })) };
const song = album.song[0];
const cover = await byToken.getCoverArt({ id: album.id, size: 96 });
out.cover = { status: cover.status, type: cover.headers.get("content-type"), redirected: cover.redirected };
const audio = await byToken.stream({ id: song.id });
out.stream = { status: audio.status, type: audio.headers.get("content-type"), bytes: (await audio.arrayBuffer()).byteLength };
const before = (await byToken.getSong({ id: song.id })).song.playCount ?? 0;
const scrobbled = await byForm.scrobble({ id: song.id, time: Date.now(), submission: true });
const after = (await byToken.getSong({ id: song.id })).song.playCount ?? 0;
out.scrobble = { status: scrobbled.status, before, after };
const wrong = new SubsonicAPI({ url, auth: { username, password: "plyr_00000000_wrong" } });
out.wrong = (await wrong.ping()).error?.code;
console.log(JSON.stringify(out));
