package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/rueidis"
)

// script is a Lua script run with EVALSHA, falling back to EVAL when the
// server does not have it cached (NOSCRIPT: a new or restarted server).
type script struct {
	src, sha string
}

func newScript(src string) *script {
	h := sha1.Sum([]byte(src)) // the name Redis gives a script, not a secret
	return &script{src: src, sha: hex.EncodeToString(h[:])}
}

// cmd is an EVALSHA of the script.
func (sc *script) cmd(c rueidis.Client, keys []string, args ...string) rueidis.Completed {
	return c.B().Evalsha().Sha1(sc.sha).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build()
}

// eval is the same call as cmd, with the script's text.
func (sc *script) eval(c rueidis.Client, keys []string, args ...string) rueidis.Completed {
	return c.B().Eval().Script(sc.src).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build()
}

// noScript reports whether r failed because the server lacks the script. A
// script that failed so did not run, so sending it again with EVAL is safe.
func noScript(r rueidis.RedisResult) bool {
	e, ok := rueidis.IsRedisErr(r.Error())
	return ok && e.IsNoScript()
}

// run runs the script once, in one round trip unless the server has to be
// sent its text.
func (sc *script) run(ctx context.Context, c rueidis.Client, keys []string, args ...string) rueidis.RedisResult {
	r := c.Do(ctx, sc.cmd(c, keys, args...))
	if noScript(r) {
		r = c.Do(ctx, sc.eval(c, keys, args...))
	}
	return r
}

// putLua is the conditional save, as a Lua function the scripts below
// share. A record is one string (see format.go) that starts with its
// version as 20 decimal digits; put writes the new record, with its
// expiry, only if the stored record starts with the expected version ("":
// no record), and reports whether it did. Versions are compared as
// strings, so the scripts do no arithmetic on 64-bit numbers, which Lua
// cannot represent exactly; the new version is made by the caller.
const putLua = `
local function put(key, expected, record, expires)
	if redis.call('GETRANGE', key, 0, 19) ~= expected then return false end
	redis.call('SET', key, record, 'PXAT', expires)
	return true
end
`

// fileLua files a session key in a user's index, as a Lua function the
// scripts below share. The index is a sorted set whose scores are the
// server time (milliseconds) of each key's latest filing, which lets the
// lazy cleaner leave alone entries that a Save in flight may still need.
// The set lives as long as the longest-lived record filed in it, and at
// least a minute.
const fileLua = `
local function file(set, key, expires)
	local t = redis.call('TIME')
	local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
	redis.call('ZADD', set, now, key)
	local exp = math.max(tonumber(expires), now + 60000)
	local ttl = redis.call('PTTL', set)
	if ttl < 0 or now + ttl < exp then
		redis.call('PEXPIREAT', set, exp)
	end
end
`

// saveScript is the conditional save of a record.
//
// KEYS[1] record; ARGV[1] expected version (20 digits, or "" for none),
// ARGV[2] new record, ARGV[3] expiry in Unix milliseconds. Returns 1 when
// saved, 0 on conflict.
var saveScript = newScript(putLua + `
if put(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) then return 1 end
return 0
`)

// indexScript files a session key in a user's index. In a cluster a
// user's set and a record live in different slots, which no one script
// may touch together: Save pipelines this script with saveScript.
//
// KEYS[1] user's set; ARGV[1] session key, ARGV[2] record expiry in Unix
// milliseconds.
var indexScript = newScript(fileLua + `
file(KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// saveFiledScript is saveScript and indexScript in one, for a standalone
// server, where one script may touch any keys: the entry is filed only if
// the record was saved.
//
// KEYS[1] record, KEYS[2] user's set; ARGV[1] expected version, ARGV[2]
// new record, ARGV[3] expiry in Unix milliseconds, ARGV[4] session key.
// Returns 1 when saved, 0 on conflict.
var saveFiledScript = newScript(putLua + fileLua + `
if not put(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) then return 0 end
file(KEYS[2], ARGV[4], ARGV[3])
return 1
`)

// renewScript moves a record to a new key, for a standalone server: it
// deletes the old record if it has the expected version, saves the new
// one if its key is free, and files it under its user.
//
// KEYS[1] old record, KEYS[2] new record, KEYS[3] (for a session with a
// user) the user's set; ARGV[1] old version, ARGV[2] new record, ARGV[3]
// expiry in Unix milliseconds, ARGV[4] new session key. Returns 1 when
// moved, 0 when the old record has another version or none, -1 when the
// new key is taken; nothing changes unless it returns 1.
var renewScript = newScript(putLua + fileLua + `
if redis.call('GETRANGE', KEYS[1], 0, 19) ~= ARGV[1] then return 0 end
if not put(KEYS[2], '', ARGV[2], ARGV[3]) then return -1 end
redis.call('DEL', KEYS[1])
if KEYS[3] then file(KEYS[3], ARGV[4], ARGV[3]) end
return 1
`)

// deleteIfVersionScript deletes a record if it has the expected version:
// the old half of a renewal in a cluster, where the new record may live on
// another node.
//
// KEYS[1] record; ARGV[1] version (20 digits). Returns 1 if it deleted the
// record, 0 if the record has another version or none.
var deleteIfVersionScript = newScript(`
if redis.call('GETRANGE', KEYS[1], 0, 19) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`)

// unindexScript removes entries from a user's index that the caller found
// stale (their record is gone or belongs to another user), unless they were
// filed again since the caller read them (their score changed) or were
// filed less than ARGV[1] milliseconds ago (a Save may be in flight whose
// record has not landed yet).
//
// KEYS[1] user's set; ARGV[1] grace in milliseconds; then pairs of session
// key and the score the caller read. Returns how many entries it removed.
var unindexScript = newScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local grace = tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV - 1, 2 do
	local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
	if s and tonumber(s) == tonumber(ARGV[i + 1]) and tonumber(s) <= now - grace then
		n = n + redis.call('ZREM', KEYS[1], ARGV[i])
	end
end
return n
`)

// deleteIfOwnerScript deletes a record if it belongs to the user: its
// bytes 20-29 hold the user's length n in decimal, bytes 30 to 29+n the user.
//
// KEYS[1] record; ARGV[1] user. Returns 1 if it deleted the record.
var deleteIfOwnerScript = newScript(`
local n = tonumber(redis.call('GETRANGE', KEYS[1], 20, 29))
if n == nil or n ~= #ARGV[1] then return 0 end
if n == 0 or redis.call('GETRANGE', KEYS[1], 30, 29 + n) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)
