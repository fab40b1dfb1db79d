#!/usr/bin/env python3
"""Generates roost's demo data set: crates/roost/data/demo.json.

The file is in roost's import format (one JSON object with "users", "tweets", "follows" and
"spaces", X API v2 field names, ids as strings): 36 fictional users (alice and bob, who can log
in, plus the X developer accounts and people who post about APIs, OAuth, Rust, testing, coffee,
hiking, photography, cooking, music and city life), a few hundred tweets (posts, threads,
conversations, quotes, retweets, in English and a little Spanish, French, German and Japanese),
a follow graph and a handful of Spaces.

Re-run it from the repository root after editing the content below:

    python3 scripts/gen-demo-data.py                 # writes crates/roost/data/demo.json
    python3 scripts/gen-demo-data.py -o FILE         # writes FILE instead ("-" = stdout)

Python 3.11+, standard library only. The output is deterministic: fixed random seeds and no
wall-clock time (every timestamp derives from the constants below), so two runs produce
byte-identical files. Before writing, the script checks every rule roost's importer enforces
(see validate()) and exits with an error instead of writing a file that would be rejected.

Times are written against CUTOFF (2026-11-01T00:00:00Z). `roost serve --demo` moves the Spaces'
times by the time from CUTOFF to the moment it loads the file (crates/roost/src/demo.rs), so
live Spaces started minutes before the load and scheduled ones start days after it; tweets and
follows keep their dates. Keep the two constants equal.

Everything added after the first version (pending follow requests, banners, listed and like
counts, emails, Space topics) draws from its own random generator, EXTRA_SEED, so the ids and
times of the original content stay exactly as they were. The third round (COVERAGE below: long
posts, a withheld account and withheld posts, every reply setting, a quote without words,
possibly sensitive posts, Space updates) has its own generator again, COVERAGE_SEED, and is
drawn after everything else, so nothing earlier moves either.
"""

import argparse
import datetime as dt
import json
import pathlib
import re
import sys
from random import Random

SEED = 20261101
# The generator for what was added later, so SEED's draws (ids, times) stay unchanged.
EXTRA_SEED = 20261201
# The generator for the third round (COVERAGE), so neither SEED's nor EXTRA_SEED's draws move.
COVERAGE_SEED = 20261215
# X's snowflake epoch (2010-11-04T01:42:54.657Z) in Unix milliseconds.
TWITTER_EPOCH_MS = 1288834974657


def ms(s):
    """'2026-10-31T16:00:00Z' -> Unix milliseconds."""
    d = dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    return int(d.timestamp()) * 1000


def iso(t):
    """Unix milliseconds -> RFC 3339 UTC with milliseconds."""
    d = dt.datetime.fromtimestamp(t // 1000, tz=dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (t % 1000)


def snowflake(t, worker, seq):
    return ((t - TWITTER_EPOCH_MS) << 22) | (worker << 12) | seq


MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# Nothing in the file may be later than this (scheduled_start of scheduled Spaces excepted).
CUTOFF = ms("2026-11-01T00:00:00Z")
# Original posts fall in this window; replies, quotes and retweets follow within days.
POSTS_FROM = ms("2025-01-01T00:00:00Z")
POSTS_UNTIL = ms("2026-10-20T00:00:00Z")
FOLLOWS_FROM = ms("2019-01-01T00:00:00Z")
FOLLOWS_UNTIL = ms("2026-10-30T00:00:00Z")

# ---------------------------------------------------------------------------------------------
# Users. Groups (what a user posts about and engages with): tech, coffee, outdoors, food, music,
# city, general. "id" is given for fixed and old (pre-snowflake) accounts; the others get a
# snowflake derived from created_at.
# ---------------------------------------------------------------------------------------------

ORGS = {"XDevelopers", "XDevsDemo", "APIStatusDemo", "CoffeeLabDemo", "CityTransitDemo"}

USERS = [
    dict(id="1000000000000000001", username="alice", name="Alice Example",
         password="alice-password", created_at="2019-04-12T09:31:07Z",
         description="Building small tools on the X API v2. OAuth 2.0, Rust 🦀, pour-over ☕ and long trails. Demo account: say hi!",
         location="Portland, OR", url="https://alice.example.com", groups=["tech", "coffee", "outdoors"]),
    dict(id="1000000000000000002", username="bob", name="Bob Example",
         password="bob-password", created_at="2019-08-30T18:02:44Z",
         description="Backend developer by day, sourdough apprentice by weekend. Posts about APIs, tests, hikes and bread that didn't rise.",
         location="Lisbon", groups=["tech", "outdoors", "food"]),
    dict(id="2244994945", username="XDevelopers", name="Developers", created_at="2013-12-14T04:35:55Z",
         description="The voice of the X Developer Platform. Docs, tips and office hours for everyone building with the X API.",
         url="https://developer.example.com", verified=True, verified_type="business", groups=["tech"]),
    dict(username="XDevsDemo", name="X Devs (demo)", created_at="2020-02-18T16:20:31Z",
         description="Developer relations for the X API (demo account): tutorials, sample code and community spotlights. #XAPI",
         url="https://developer.example.com/community", verified=True, verified_type="business", groups=["tech"]),
    dict(username="APIStatusDemo", name="API Status (demo)", created_at="2020-03-02T08:00:12Z",
         description="Status of the X API (demo account). Incidents, maintenance and resolutions.",
         url="https://status.example.com", verified=True, verified_type="business", groups=["tech"]),
    dict(id="1183920461", username="carol_codes", name="Carol Okafor", created_at="2013-02-19T21:47:03Z",
         description="Rust engineer. Testing, async, and the joy of deleting code. she/her. Opinions are my cat's.",
         location="Manchester, UK", url="https://carol.example.org", verified=True, verified_type="blue",
         groups=["tech", "general"]),
    dict(id="14563987", username="dave_hikes", name="Dave Lindqvist", created_at="2008-04-26T08:14:33Z",
         description="Trails, peaks and the photos I take when I should be walking. 🥾📷",
         location="Boulder, CO", groups=["outdoors"]),
    dict(username="erin_bakes", name="Erin Castillo", created_at="2020-09-09T12:12:40Z",
         description="Home baker. Brown butter evangelist. Will trade cardamom buns for good gossip.",
         location="Austin, TX", url="https://erin.example.org/recipes", groups=["food", "coffee"]),
    dict(id="48291036", username="frank_synth", name="Frank Moreau", created_at="2009-06-01T20:45:12Z",
         description="Synthés modulaires, enregistrements de terrain et petits concerts. Lyon 🎛️",
         location="Lyon", groups=["music", "city", "food"]),
    dict(username="grace_ops", name="Grace Tanaka", created_at="2019-11-05T02:33:18Z",
         description="SRE. Runbooks, retries and calm on-call. 大阪在住。日本語と英語で投稿します。",
         location="Osaka", verified=True, verified_type="blue", groups=["tech", "coffee", "outdoors"]),
    dict(username="heidi_k", name="Heidi Krüger", created_at="2021-01-23T19:05:51Z",
         description="Bücher, Tee und Berliner U-Bahn-Geschichten. Kleiner, privater Account.",
         location="Berlin", protected=True, groups=["city", "general", "food"]),
    dict(username="ivan_builds", name="Ivan Horvat", created_at="2021-05-14T10:41:29Z",
         description="Weekend bot builder. My plant-watering bot has more followers than me. 🌱",
         groups=["tech"]),
    dict(username="judy_reads", name="Judy Mensah", created_at="2020-07-30T14:58:02Z",
         password="judy-password",
         description="Reader of mysteries, drinker of cold coffee, keeper of a very tall to-be-read pile. Private account.",
         protected=True, groups=["general", "coffee"]),
    dict(username="mallory_sec", name="Mallory Quinn", created_at="2019-10-10T10:10:10Z",
         description="Application security. I read your OAuth code so attackers don't have to. Private account, DMs open.",
         protected=True, groups=["tech"]),
    dict(username="niaj_dev", name="Niaj Rahman", created_at="2023-01-09T09:15:44Z",
         description="Junior backend dev. Learning in public: tests, APIs and the bus routes of a new city.",
         location="Toronto", groups=["tech", "city"]),
    dict(username="olivia_maps", name="Olivia Fernández", created_at="2020-04-21T17:37:26Z",
         description="Cartógrafa. Mapas abiertos, bicis y rutas por la sierra. Maps, bikes and open data. 🗺️",
         location="Madrid", url="https://olivia.example.org", groups=["city", "outdoors"]),
    dict(username="peggy_lens", name="Peggy Arnaud", created_at="2021-08-02T06:44:09Z",
         description="Street and portrait photographer. Film when I'm patient, digital when I'm not. 📷",
         location="Montréal", url="https://peggy.example.com", groups=["outdoors", "city", "coffee"]),
    dict(id="219834771", username="rupert_brews", name="Rupert Hale", created_at="2010-11-25T07:58:40Z",
         description="Head roaster at @CoffeeLabDemo. Coffee nerd since dial-up. Ask me about grind size.",
         location="Portland, OR", groups=["coffee", "food"]),
    dict(username="sybil_tests", name="Sybil Varga", created_at="2019-06-17T13:26:55Z",
         description="QA engineer. Professional breaker of things. Empty pages, weird Unicode and 429s are my love language. 🧪",
         location="Budapest", groups=["tech"]),
    dict(username="trent_oauth", name="Trent Adeyemi", created_at="2020-01-28T20:02:37Z",
         description="Identity and OAuth 2.0 explainer. Tokens, scopes, PKCE, with diagrams. 🔐",
         url="https://trent.example.org", groups=["tech"]),
    dict(username="victor_rs", name="Victor Sato", created_at="2019-03-03T03:03:03Z",
         description="Rust since 1.0. Compilers, serde and old jazz records. 🦀🎷",
         location="Seattle, WA", url="https://victor.example.com", verified=True, verified_type="blue",
         groups=["tech", "music"]),
    dict(id="1186412", username="walter_jazz", name="Walter Brooks", created_at="2007-03-11T17:22:09Z",
         description="Trumpet, flea-market records and Tuesday night jams. 🎺",
         location="New Orleans, LA", groups=["music"]),
    dict(username="yuki_photo", name="Yuki Hoshino", created_at="2022-02-14T22:48:36Z",
         description="東京の街と光を撮っています。Film and digital, mostly at 5 am. 📷",
         location="Tokyo", groups=["outdoors", "city"]),
    dict(username="zoe_cycles", name="Zoe Martins", created_at="2022-05-06T07:30:00Z",
         description="Bike commuter, bikepacker, bike-lane enthusiast. 🚲",
         location="Rotterdam", groups=["city", "outdoors"]),
    dict(username="liam_cooks", name="Liam O'Rourke", created_at="2021-11-19T18:19:58Z",
         description="Line cook turned home cook. Risotto, roasts and too many knives. 🍝",
         location="Dublin", groups=["food"]),
    dict(username="maya_ui", name="Maya Iyer", created_at="2022-09-27T11:11:47Z",
         description="Front-end developer. Accessibility, empty states and a good coffee shop. ♿🎨",
         location="Bengaluru", url="https://maya.example.com", groups=["tech", "city", "coffee"]),
    dict(username="noah_data", name="Noah Becker", created_at="2023-04-03T15:42:21Z",
         description="Data engineer. Timestamps in UTC or not at all. 📊",
         groups=["tech"]),
    dict(username="priya_k", name="Priya Raman", created_at="2021-03-08T04:27:15Z",
         description="Cooking my grandmother's recipes and relearning the veena. 🍛🎶",
         location="Chennai", groups=["food", "music"]),
    dict(username="quinn_trails", name="Quinn Ellison", created_at="2022-07-12T05:05:05Z",
         description="Trail runner. Slow uphill, happy downhill. 🏃",
         location="Chamonix", groups=["outdoors"]),
    dict(username="sam_city", name="Sam Okoro", created_at="2020-10-15T08:36:49Z",
         description="Urbanist, bakery tourist, rooftop gardener. Notes from a walkable life. 🏙️",
         location="Lagos", groups=["city", "food"]),
    dict(username="tara_ferments", name="Tara Novak", created_at="2023-06-21T16:16:16Z",
         description="Fermenting everything that fits in a jar. Private account.",
         protected=True, groups=["food"]),
    dict(username="uma_plays", name="Uma Lindgren", created_at="2021-12-01T19:59:59Z",
         description="Pianist. Lo-fi recordings on a very old keyboard. 🎹",
         location="Stockholm", url="https://uma.example.com", groups=["music"]),
    dict(username="CoffeeLabDemo", name="Coffee Lab (demo)", created_at="2019-09-16T07:00:00Z",
         description="A fictional neighbourhood roastery and café. Brew guides, cuppings and latte art. ☕",
         location="Portland, OR", url="https://coffeelab.example.com", verified=True, verified_type="business",
         groups=["coffee"]),
    dict(username="CityTransitDemo", name="Metro Transit (demo)", created_at="2019-05-27T12:00:00Z",
         description="Service updates for a fictional city's trains, trams and buses. 🚆",
         url="https://transit.example.org", verified=True, verified_type="government", groups=["city"]),
    dict(username="pat_quietly", name="Pat Ellis", created_at="2024-02-29T12:34:56Z",
         description="Garden notes. Small and quiet on purpose. 🌿",
         protected=True, groups=["general", "outdoors"]),
]

# Posts that say which day it is are posted on that day (Monday = 0).
WEEKDAY_HINTS = {"Happy Friday": 4, "Cozy Sunday": 6, "Sunday soup": 6, "Sunday sambar": 6, "Sunday roast": 6,
                 "a Sunday tradition": 6, "Weekend plan": 4, "Endlich Wochenende": 4, "Domingo de": 6,
                 "du dimanche matin": 6, "This morning's hike": 5}

# Which tweet each user pins (a prefix of one of their posts).
PINS = {
    "alice": "Hi, I'm Alice",
    "XDevelopers": "Welcome to the X Developer Platform",
    "carol_codes": "Things I wish I'd known",
    "trent_oauth": "Wrote a longer explainer on PKCE",
    "rupert_brews": "How to dial in espresso",
    "CoffeeLabDemo": "Cupping session Saturday",
    "olivia_maps": "Hilo: cómo preparé",
}

# ---------------------------------------------------------------------------------------------
# Follows. alice's and bob's lists are exact; protected accounts are followed only by the
# accounts listed in PROTECTED_FOLLOWERS; everyone follows XDevelopers; the rest is drawn.
# ---------------------------------------------------------------------------------------------

ALICE_FOLLOWS = ["XDevelopers", "XDevsDemo", "APIStatusDemo", "bob", "carol_codes", "grace_ops",
                 "trent_oauth", "victor_rs", "rupert_brews", "CoffeeLabDemo", "dave_hikes",
                 "peggy_lens", "judy_reads", "sybil_tests", "maya_ui"]
BOB_FOLLOWS = ["XDevelopers", "alice", "carol_codes", "dave_hikes", "quinn_trails", "erin_bakes",
               "liam_cooks", "victor_rs", "APIStatusDemo", "zoe_cycles"]
ALICE_FOLLOWERS = ["bob", "carol_codes", "grace_ops", "trent_oauth", "victor_rs", "rupert_brews",
                   "CoffeeLabDemo", "dave_hikes", "peggy_lens", "judy_reads", "sybil_tests", "maya_ui",
                   "XDevsDemo", "ivan_builds", "niaj_dev", "noah_data", "mallory_sec", "erin_bakes",
                   "olivia_maps", "zoe_cycles", "sam_city", "quinn_trails", "yuki_photo", "liam_cooks",
                   "heidi_k"]
PROTECTED_FOLLOWERS = {
    "judy_reads": ["alice", "erin_bakes", "niaj_dev", "heidi_k", "peggy_lens"],
    "heidi_k": ["frank_synth", "grace_ops", "judy_reads", "olivia_maps"],
    "mallory_sec": ["trent_oauth", "sybil_tests", "carol_codes"],
    "tara_ferments": ["erin_bakes", "liam_cooks", "priya_k"],
    "pat_quietly": ["sam_city", "zoe_cycles"],
}
EXTRA_FOLLOWS = [("XDevelopers", "XDevsDemo"), ("XDevelopers", "APIStatusDemo"),
                 ("XDevsDemo", "XDevelopers"), ("XDevsDemo", "APIStatusDemo"),
                 ("APIStatusDemo", "XDevsDemo"), ("CoffeeLabDemo", "rupert_brews"),
                 ("rupert_brews", "CoffeeLabDemo")]
# Follow requests to protected accounts that are not approved yet (`"pending": true`): alice
# sees `follow_request_sent` on mallory_sec; judy_reads (who can sign in) sees
# `follow_request_received` from sybil_tests and ivan_builds.
PENDING_FOLLOWS = [("alice", "mallory_sec"), ("sybil_tests", "judy_reads"), ("ivan_builds", "judy_reads"),
                   ("niaj_dev", "tara_ferments"), ("maya_ui", "pat_quietly")]
# Chance that a drawn follow is followed back, and how much more likely an account is followed.
FOLLOW_BACK = 0.5
POPULAR = {"XDevsDemo": 0.45, "APIStatusDemo": 0.3, "CoffeeLabDemo": 0.25, "CityTransitDemo": 0.2,
           "carol_codes": 0.12, "bob": 0.1, "victor_rs": 0.08, "trent_oauth": 0.08, "dave_hikes": 0.08}

# ---------------------------------------------------------------------------------------------
# Tweets. ORIGINALS: (group, lang, text) per user. THREADS: a user replying to themselves.
# CONVERSATIONS: scripted reply trees (the leading @mentions are added automatically).
# ---------------------------------------------------------------------------------------------

T, C, O, F, M, Y, G = "tech", "coffee", "outdoors", "food", "music", "city", "general"

ORIGINALS = {
    "alice": [
        (T, "en", "Hi, I'm Alice 👋 I build small tools on top of the X API v2 and write about OAuth 2.0, Rust and the occasional coffee experiment. This is a demo account, say hi!"),
        (T, "en", "Finally moved our bot from app-only auth to OAuth 2.0 with PKCE. The authorize → callback → token dance is about 60 lines once you stop fighting it. #OAuth #XAPI"),
        (T, "en", "Rust borrow checker 1, me 0. But the fix made the code better, as usual. 🦀 #rustlang"),
        (C, "en", "Pour-over this morning: 15 g beans, 250 g water, 3:10 total. Bright, a little too bright. Going one click finer tomorrow. ☕"),
        (T, "en", "Pagination tip: keep calling with `pagination_token` set to `meta.next_token` until it's absent. Don't compute offsets yourself. #XAPI"),
        (T, "en", "Wrote up how I test token refresh without waiting two hours for a token to expire: https://alice.example.com/notes/refresh-tokens #OAuth #testing"),
        (O, "en", "Trail day! 14 km, 700 m of climbing, one very judgmental marmot. 🏔️ #hiking"),
        (T, "en", "Pairing with @bob on a flaky integration test. Turns out the test was right and the clock was wrong. ⏰ #testing"),
        (C, "en", "Cozy Sunday: new beans from @CoffeeLabDemo and a long Rust refactor. Perfect. ☕🦀"),
        (T, "en", "Small win: our test suite now runs against a local fake of the API, so CI needs no real credentials. #testing"),
        (T, "en", "If your redirect URI has a trailing slash in one place and not the other, you will have a bad afternoon. Ask me how I know. #OAuth"),
    ],
    "bob": [
        (F, "en", "Loaf #14: better oven spring, still a dense crumb. Hydration goes up to 72% next time. 🍞 #sourdough"),
        (T, "en", "Integration tests that hit a real network are not tests, they are weather reports. #testing"),
        (O, "en", "Sunrise hike up the ridge. Cold fingers, hot tea, zero regrets. 🌄 #hiking"),
        (T, "en", "PSA: `max_results` has a minimum as well as a maximum. Read the error message, it tells you exactly which. #XAPI"),
        (T, "en", "Trying Rust for a small CLI at work. The compiler errors are better than most documentation I've read. 🦀"),
        (F, "en", "Made a big pot of chili for the week. The secret ingredient is patience (and a square of dark chocolate). 🌶️"),
        (T, "en", "A 429 is a feature. Your client should be glad to see it and back off politely. #API"),
        (Y, "en", "Walked home through the park instead of taking the bus. 25 minutes well spent. 🌳"),
        (T, "en", "@alice your pagination tip just saved me from shipping an offset bug. Thank you 🙏"),
        (G, "en", "Weekend plan: finish the trail map, bake focaccia, ignore the group chat."),
        (T, "en", "Mock servers are underrated. Spin one up, point your client at it, and finally test the unhappy paths. #testing"),
        (F, "en", "The bread did not rise. The bread became crackers. The crackers were delicious. 🫓"),
        (O, "en", "New boots, old trail, same view. Never gets old. #hiking"),
    ],
    "XDevelopers": [
        (T, "en", "Welcome to the X Developer Platform! Build with the X API v2: users, posts, follows and Spaces. Start with the docs: https://developer.example.com/docs #XAPI"),
        (T, "en", "📣 Tip: use `tweet.fields=created_at,public_metrics` to get timestamps and engagement counts in a single request. #XAPI"),
        (T, "en", "OAuth 2.0 Authorization Code Flow with PKCE lets your app act on behalf of users with fine-grained scopes like `tweet.read` and `users.read`. #OAuth"),
        (T, "en", "Building a bot? Refresh tokens are only issued when you request the `offline.access` scope. #OAuth"),
        (T, "en", "Rate limits are per endpoint and per 15-minute window. Check the `x-rate-limit-*` response headers to pace your app. #XAPI"),
        (T, "en", "New to the API? Our getting-started guide walks you through your first request in five minutes: https://developer.example.com/docs/getting-started"),
        (T, "en", "Did you know? `expansions=pinned_tweet_id` on user lookup returns the pinned post in `includes.tweets`. #XAPI"),
        (T, "en", "Join us live for API office hours this week: bring your questions about pagination, expansions and OAuth scopes. 🎙️"),
        (T, "en", "Store tokens securely, and never ship a client secret in a mobile or browser app. Public clients use PKCE instead. #OAuth"),
        (T, "en", "The follows endpoints return the most recent relationships first. Use `max_results` and `pagination_token` to walk the full list. #XAPI"),
        (T, "en", "Spaces lookup supports `space.fields=participant_count,scheduled_start`, so a schedule view takes one call. #XAPI"),
        (T, "en", "Errors come back as problem details with `title`, `detail` and `type`. Log them: they're there to help you. #XAPI"),
        (T, "en", "Happy Friday, developers! What are you shipping this weekend? 🚀"),
        (T, "en", "Posts from protected accounts are visible only to approved followers, and that includes API responses. Design your app with that in mind."),
        (T, "en", "Conversation tip: every reply carries the `conversation_id` of the post that started the thread. Search by it to fetch the whole conversation. #XAPI"),
    ],
    "XDevsDemo": [
        (T, "en", "This week in the demo API: Spaces lookup, follower pagination and friendlier error messages. Full notes: https://developer.example.com/changelog #XAPI"),
        (T, "en", "Community spotlight 🌟 @alice built a tiny CLI that archives her bookmarks using OAuth 2.0 with PKCE. Love to see it."),
        (T, "en", "Sample code for walking a follower list with `max_results=5` is up: https://developer.example.com/samples/followers #XAPI"),
        (T, "en", "Office hours recap: the most common question was about `conversation_id`. It's the id of the post that started the thread."),
        (T, "en", "New tutorial: testing your app against a local mock of the API, no real keys needed. https://developer.example.org/tutorials/local-testing #testing"),
    ],
    "APIStatusDemo": [
        (T, "en", "✅ All systems operational."),
        (T, "en", "🔧 Scheduled maintenance for the demo token endpoint on Saturday 02:00–02:30 UTC. Expect brief 503 responses."),
        (T, "en", "ℹ️ Status history and incident reports live at https://status.example.com"),
    ],
    "carol_codes": [
        (T, "en", "Property-based tests found a bug in my date parser that 200 example tests missed. Every time. 🦀 #rustlang #testing"),
        (T, "en", "Today's async Rust lesson: hold a mutex guard across an `.await` and you will meet the deadlock fairy. 🧚"),
        (T, "en", "Shipping a tiny crate this weekend: a snowflake id generator with a pluggable clock so tests stay deterministic. 🦀"),
        (T, "en", "Code review tip: ask 'what happens when this fails?' about every external call. It's a magic question."),
        (T, "en", "Cargo workspaces plus a shared test-utils crate = so much less copy-paste. #rustlang"),
        (G, "en", "My favourite kind of PR: +40 −400. 🧹"),
        (T, "en", "Spent the morning making error messages friendlier. The least glamorous and most appreciated work I do."),
        (T, "en", "If your tests need `sleep(5)`, your tests need a fake clock. #testing"),
        (T, "en", "Snapshot testing JSON responses is great until someone reorders a map. Sort your keys, friends."),
        (G, "en", "Took the laptop to the park. Got nothing done. 10/10 would do again. 🌳"),
        (T, "en", "Fuzzed the URL parser overnight: 3 crashes, all the same off-by-one. Fixed, with a regression test. 🦀"),
        (G, "en", "Hot chocolate and type errors: a Sunday tradition."),
        (T, "en", "Reminder that `#[must_use]` exists, and your future self would love it on that builder. #rustlang"),
    ],
    "CoffeeLabDemo": [
        (C, "en", "New on the shelf: a washed Ethiopian with notes of jasmine and lemon. ☕ #coffee"),
        (C, "en", "Brew guide of the week: 1:16 ratio, 94 °C water, 30 s bloom. Adjust the grind, not the dose. #coffee"),
        (C, "en", "Latte art throwdown this Thursday! Bring your steadiest hand. ☕🎨"),
        (C, "en", "Our decaf is Swiss Water processed and, honestly, delicious. Fight us. ☕"),
        (C, "en", "Cupping session Saturday at 10: three naturals, one anaerobic, all free. Sign up: https://coffeelab.example.com/cupping"),
    ],
    "CityTransitDemo": [
        (Y, "en", "From Monday, Line 4 trains run every 6 minutes during the weekday morning peak. 🚆"),
        (Y, "en", "Bike racks are now installed at all 12 Riverside stations. 🚲 #citylife"),
        (Y, "en", "Weekend works: Line 2 is replaced by buses between Central and Harbor, Saturday and Sunday. Plan ahead: https://transit.example.org/alerts"),
        (Y, "en", "Thanks for riding! Ridership on the crosstown bus routes is up 14% year over year."),
    ],
    "dave_hikes": [
        (O, "en", "Golden hour on the north ridge. No filter, just cold hands. 📷 #hiking #photography"),
        (O, "en", "Trail report: the lake loop is muddy but passable. Bring poles, skip the white sneakers."),
        (O, "en", "Packing list essentials: headlamp, extra layer, more snacks than seem reasonable. 🥾"),
        (O, "en", "New favourite lens for trail shots: a tiny 28mm prime. Weighs almost nothing. 📷"),
        (O, "en", "First snow on the peaks this morning. Season change is official. ❄️"),
    ],
    "erin_bakes": [
        (F, "en", "Brown butter everything. That's it, that's the post. 🧈"),
        (F, "en", "Tested the same cookie recipe with 3 flours. Bread flour won on chew, by a mile. 🍪 #baking"),
        (F, "en", "Sunday soup: roasted tomato, garlic, a splash of cream. Toast on the side for dunking. 🍅"),
        (F, "en", "Proofing dough in the oven with only the light on is the best kitchen hack I know. #sourdough"),
        (F, "en", "Made dumplings from scratch with my niece. Half of them are 'abstract art'. All of them got eaten. 🥟"),
        (F, "en", "Cardamom buns are cooling and the whole flat smells like a Scandinavian bakery. ✨"),
    ],
    "frank_synth": [
        (M, "fr", "Nouvelle session de synthé modulaire ce soir. Trois heures de bruit, trente secondes de magie. 🎛️"),
        (M, "en", "Finished a 4-minute ambient track made entirely from field recordings of the tram. 🎧 #music"),
        (F, "fr", "Le marché du dimanche matin, avec un café et un croissant : rien de mieux. ☕🥐"),
        (M, "fr", "Quelqu'un a des conseils pour enregistrer un piano droit à la maison ? Micros, placement, tout m'intéresse. 🎹"),
        (M, "en", "Gig tonight at a tiny bar with eleven chairs. Sold out, technically. 🎶"),
    ],
    "grace_ops": [
        (T, "en", "On-call lesson: if an alert doesn't need a human, it shouldn't page a human. #SRE"),
        (T, "ja", "今日は一日中ログを読んでいました。原因はタイムゾーンの設定ミス。よくあるやつです。😅"),
        (T, "en", "Our retry policy now uses exponential backoff with jitter. The thundering herd has been tamed. 🐘"),
        (C, "ja", "大阪の朝のコーヒーと、新しいRustのプロジェクト。いい一日になりそう。☕🦀"),
        (T, "en", "Runbooks should be written for someone tired, stressed and half asleep. That's the real user."),
        (O, "ja", "週末は京都で紅葉を見てきました。写真はまた後で。🍁"),
    ],
    "heidi_k": [
        (G, "de", "Endlich Wochenende. Tee, ein gutes Buch und kein Laptop. 📚"),
        (Y, "de", "Die U-Bahn war heute pünktlich. Ich bin misstrauisch. 🚇"),
        (F, "de", "Heute Abend gibt es Käsespätzle mit Röstzwiebeln. Keine Diskussion. 🧀"),
        (Y, "de", "Herbst in Berlin: grau, windig und trotzdem wunderschön. 🍂"),
    ],
    "ivan_builds": [
        (T, "en", "Side project update: my plant-watering bot now posts a daily status via the API. The plants are thriving. 🌱 #XAPI"),
        (T, "en", "Rewrote the bot's HTTP client with proper retries. 90% fewer 'why did it stop' mornings."),
        (G, "en", "The hardest part of building a bot is naming it. Current candidate: Sir Waters-a-Lot."),
        (T, "en", "Learned the hard way: store the new refresh token *before* you use the new access token. #OAuth"),
    ],
    "judy_reads": [
        (G, "en", "Finished a 600-page novel in a week. My to-be-read pile remains undefeated. 📚"),
        (G, "en", "Library haul: two mysteries, a cookbook and a book about moss. Big week ahead."),
        (C, "en", "Rainy day, window seat, coffee going cold because the chapter is too good. ☕📖"),
    ],
    "mallory_sec": [
        (T, "en", "Audited three OAuth integrations this month. Two didn't validate `state`. Please validate `state`. #OAuth #security"),
        (T, "en", "Your client secret is in your git history. Yes, that one. Rotate it. 🔑"),
        (T, "en", "PKCE isn't only for mobile apps. Use it everywhere; it costs nothing. #OAuth"),
        (T, "en", "Threat modelling session ran 3 hours over. Worth every minute."),
    ],
    "niaj_dev": [
        (T, "en", "First week at the new job and I already wrote my first flaky test. Tradition. #testing"),
        (Y, "en", "Commute reading: API design guidelines and a very crumpled croissant. 🥐"),
        (T, "en", "Contract tests between services caught a renamed field before it reached production. Worth the setup. #testing"),
        (T, "en", "Somebody please explain why my tests only pass on Tuesdays."),
    ],
    "olivia_maps": [
        (Y, "es", "Nuevo mapa de rutas ciclistas de Madrid terminado. ¡Más de 200 km de carriles bici! 🚲🗺️"),
        (O, "es", "Domingo de senderismo en la sierra. Frío, niebla y un bocadillo de tortilla perfecto. 🥾"),
        (Y, "en", "Making maps is 10% design and 90% arguing with coordinate systems. 🗺️"),
        (T, "es", "¿Alguien conoce una buena API de datos abiertos de transporte público? Estoy preparando un proyecto. #API"),
        (Y, "es", "Atardecer desde el Templo de Debod. Nunca me canso de esta vista. 🌅"),
        (Y, "en", "Exported the bike map as GeoJSON and it's 40 MB. Time to learn about tiling. 😅"),
    ],
    "peggy_lens": [
        (O, "en", "Shot a whole roll of film on a single street corner. Light changes everything. 📷 #photography"),
        (O, "en", "Portrait tip: ask people about their favourite food right before you press the shutter. Instant real smile."),
        (Y, "en", "Blue hour downtown, reflections everywhere after the rain. 🌆 #photography"),
        (C, "en", "Café window light is the best free studio in the city. ☕📷"),
    ],
    "rupert_brews": [
        (C, "en", "Roast day! 12 kg of Colombian going through the drum this morning. The whole street smells amazing. ☕🔥"),
        (C, "en", "Dialing in espresso: 18 g in, 36 g out, 28 seconds. Chocolate, cherry, a touch of orange. #coffee"),
        (C, "en", "Cold brew ratio that never fails me: 1:8, 18 hours in the fridge, dilute 1:1. 🧊"),
        (C, "en", "Every barista has a 'this grinder is haunted' story. Mine involves a 6 am shift and a very loud burr."),
        (C, "en", "Reminder: coffee beans are the seeds of a fruit. So coffee is basically a smoothie. 🍒☕"),
    ],
    "sybil_tests": [
        (T, "en", "QA isn't the last line of defence, it's a perspective. Bring it into planning, not just release day. #testing"),
        (T, "en", "Wrote a test for an API returning an empty page *with* a next_token. It happens! #testing #XAPI"),
        (T, "en", "Exploratory testing session: 4 bugs, 2 typos, and 1 feature nobody knew existed."),
        (T, "en", "My favourite test input: a name with an apostrophe, an emoji and 51 characters. 🧪"),
    ],
    "trent_oauth": [
        (T, "en", "OAuth 2.0 in one sentence: the user tells the server to give your app a limited key, and you never see their password. #OAuth"),
        (T, "en", "Refresh token rotation: every refresh returns a new refresh token and the old one stops working. Store the new one. Always. #OAuth"),
        (T, "en", "Scopes are a contract with your users. Ask for `tweet.read` when you only read. Nobody trusts an app that asks for everything."),
        (T, "en", "Wrote a longer explainer on PKCE, with diagrams: https://trent.example.org/pkce #OAuth"),
        (T, "en", "Token revocation should be boring and instant. If it isn't, fix that first. #OAuth"),
    ],
    "victor_rs": [
        (T, "en", "Edition migration done on a 40k-line codebase. `cargo fix` did most of the work. 🦀 #rustlang"),
        (T, "en", "Benchmarked serde against hand-rolled JSON parsing for our hot path. serde won. Keeping serde. 🦀"),
        (M, "en", "Listening to old jazz records while fighting lifetimes. The saxophone understands my pain. 🎷"),
        (T, "en", "Clippy suggested a change that made the function 3x faster by accident. Thank you, clippy. 📎 #rustlang"),
        (T, "en", "Teaching a Rust workshop next month: borrowing, ownership and a lot of whiteboard arrows."),
    ],
    "walter_jazz": [
        (M, "en", "Found a 1962 pressing at the flea market for two dollars. Crackles and all, it's perfect. 🎷"),
        (M, "en", "Jam session tonight: trumpet, upright bass, and a drummer who showed up with only brushes."),
        (M, "en", "Tuesday night jazz at the corner bar is free and the best-kept secret in town. 🎺"),
        (M, "en", "Practising scales for an hour so I can improvise for ten seconds. Worth it."),
    ],
    "yuki_photo": [
        (O, "ja", "夜の渋谷、雨上がりの反射がきれいでした。📷 #写真"),
        (O, "ja", "新しいフィルムカメラを買いました。最初の一本は猫を撮る予定です。🐈"),
        (Y, "en", "Tokyo at 5 am is a completely different city. Quiet, blue, and full of crows. 📷"),
        (O, "ja", "今日の一枚：商店街の夕焼け。🌇"),
        (O, "en", "Edited 300 photos from the weekend. Kept 12. That's the job."),
    ],
    "zoe_cycles": [
        (Y, "en", "Biked to work every day this month. Legs: tired. Mood: excellent. 🚲 #citylife"),
        (Y, "en", "The new protected bike lane on 5th Street is open and people are actually using it! 🎉"),
        (Y, "en", "Rainy commute tip: fenders. That's the tip. Get fenders."),
        (O, "en", "Weekend bikepacking trip: 120 km, two flat tyres, one perfect campsite. ⛺"),
    ],
    "liam_cooks": [
        (F, "en", "Made risotto for 8 people and stirred for what felt like a week. Worth it. 🍚"),
        (F, "en", "Knife skills class tonight. Still have all ten fingers. 🔪"),
        (F, "en", "Homemade pasta is just flour, eggs, and a willingness to get flour everywhere. 🍝"),
        (F, "en", "Sunday roast, leftover sandwich on Monday. The true main event."),
    ],
    "maya_ui": [
        (T, "en", "Designing the empty states for our app today. 'No posts yet' deserves love too. 🎨"),
        (T, "en", "Accessibility check: if you can't use it with a keyboard, it's not done. ♿"),
        (T, "en", "Built a tiny timeline viewer against the API. Infinite scroll is just pagination with better PR. #XAPI"),
        (C, "en", "Café with good wifi and bad chairs, or good chairs and no wifi? The eternal dilemma. ☕"),
    ],
    "noah_data": [
        (T, "en", "Counted every rate limit header our service saw last month. Charts coming soon. 📊 #API"),
        (T, "en", "Timestamps in UTC, always. Convert at the edges. I will die on this hill. ⏰"),
        (T, "en", "Pulled a week of public metrics into a notebook. Mornings win for engagement. 📈"),
    ],
    "priya_k": [
        (F, "en", "Tempering spices in hot ghee is the most satisfying 30 seconds in cooking. 🔥"),
        (F, "en", "Sunday sambar, my grandmother's recipe, slightly adjusted so my kids will eat it."),
        (M, "en", "Learning the veena again after ten years. My fingers remember more than I do. 🎶"),
        (F, "en", "Meal prep done: three curries, one dal, rice for days. 🍛"),
    ],
    "quinn_trails": [
        (O, "en", "Trail run at dawn: 18 km, 900 m up, one very surprised deer. 🦌 #trailrunning"),
        (O, "en", "Hydration vest packed, headlamp charged, excuses exhausted. Long run tomorrow."),
        (O, "en", "Race recap: finished my first 50k! Slow, happy, covered in mud. 🏃"),
        (O, "en", "The downhill is where the real running happens. Uphills are just long walks with ambition."),
    ],
    "sam_city": [
        (Y, "en", "The corner bakery opens at 6 and there's already a queue. Neighbourhood rituals. 🥖 #citylife"),
        (Y, "en", "Took the night bus for the first time in years. Saw three musicians, a wedding party and a man carrying a lamp."),
        (Y, "en", "City council meeting tonight about the new park. Bring snacks and patience. 🌳"),
        (Y, "en", "Rooftop garden update: tomatoes 12, squirrels 3. We're winning. 🍅"),
    ],
    "tara_ferments": [
        (F, "en", "Kimchi batch #9 is bubbling away. The fridge is a science experiment now. 🥬"),
        (F, "en", "The kombucha SCOBY hotel is at capacity. Adoption applications are open. 🫙"),
        (F, "en", "Fermented hot sauce after 3 weeks: tangy, fruity, dangerous. 🌶️"),
    ],
    "uma_plays": [
        (M, "en", "Piano practice: 45 minutes of Chopin, 15 minutes of video game themes. Balance. 🎹"),
        (M, "en", "Played my first recital in twelve years. Hands shaking, heart full. 🎶"),
        (M, "en", "A metronome at 60 bpm is humbling. Everything you hide at speed shows up."),
        (M, "en", "Lo-fi playlist for deep work, all recorded on a very old keyboard: https://uma.example.com/lofi"),
    ],
    "pat_quietly": [
        (G, "en", "Keeping this account small and quiet. Mostly garden notes. 🌿"),
        (G, "en", "The basil survived another week. Small victories."),
        (O, "en", "Long walk, no phone. Highly recommend."),
    ],
}

THREADS = [
    ("alice", T, "en", [
        "🧵 How I finally understood OAuth 2.0 with PKCE, in four posts. #OAuth",
        "1/ Your app makes a random `code_verifier` and sends only its SHA-256 hash, the `code_challenge`, with the authorize request.",
        "2/ The user signs in and approves the scopes. The server redirects back to your callback with a short-lived `code` and your `state`.",
        "3/ Your app swaps the `code` plus the original `code_verifier` for tokens. Whoever steals the code can't use it without the verifier. That's the whole trick. 🔐",
    ]),
    ("bob", F, "en", [
        "Sourdough starter: a short thread on what I got wrong for six months 🍞",
        "First: I fed it on a schedule instead of watching it. It peaks when it peaks, not at 8 am because I said so.",
        "Second: my flat is cold. A warm spot (the oven with the light on, thanks @erin_bakes) fixed half my problems.",
        "Third: patience. The loaf I'm proudest of took 30 hours start to finish. Worth it. #sourdough",
    ]),
    ("carol_codes", T, "en", [
        "Things I wish I'd known before writing my first async Rust service 🦀🧵",
        "1. Pick one runtime and stick with it. Mixing them leads to confusing panics at 2 am.",
        "2. Put a timeout on every network call. Every. Single. One.",
        "3. Test with a fake clock so your retry logic doesn't make CI take 20 minutes.",
        "4. Read the error. Then read it again. The compiler is usually telling you exactly what's wrong. #rustlang",
    ]),
    ("XDevelopers", T, "en", [
        "🧵 Getting started with the X API v2 users endpoints",
        "Look up one user with GET /2/users/by/username/:username, or up to 100 at once with GET /2/users/by?usernames=…",
        "Add `user.fields=description,public_metrics,verified` for richer profiles, and `expansions=pinned_tweet_id` for the pinned post.",
        "Who follows whom? GET /2/users/:id/followers and /2/users/:id/following, paged with `max_results` and `pagination_token`. Happy building! #XAPI",
    ]),
    ("dave_hikes", O, "en", [
        "Three-day loop, trip report 🥾🧵",
        "Day 1: 22 km, mostly forest, one river crossing that was deeper than the map suggested.",
        "Day 2: the big climb. Above the tree line by noon, clouds below us by two. Best lunch spot I've ever had.",
        "Day 3: all downhill, knees complaining, already planning the next one. #hiking",
    ]),
    ("trent_oauth", T, "en", [
        "Common OAuth mistakes I see in code reviews, a thread #OAuth",
        "Storing access tokens in localStorage. Treat them like passwords.",
        "Requesting `offline.access` when you never use the refresh token. Ask only for what you need.",
        "Not handling `invalid_grant` on refresh. It means: send the user through the authorize flow again.",
    ]),
    ("grace_ops", T, "en", [
        "Postmortem culture, a short thread:",
        "Blameless doesn't mean nobody is responsible. It means we look at systems, not scapegoats.",
        "Every postmortem ends with action items that have owners and dates. Otherwise it's just a story.",
    ]),
    ("rupert_brews", C, "en", [
        "How to dial in espresso at home, a thread ☕",
        "Keep the dose fixed. Change one thing at a time, and that thing is grind size.",
        "Sour and fast? Grind finer. Bitter and slow? Grind coarser. Taste, adjust, repeat.",
        "Write it down. Your memory of yesterday's shot is lying to you. #coffee",
    ]),
    ("olivia_maps", Y, "es", [
        "Hilo: cómo preparé el mapa de carriles bici de Madrid 🗺️🧵",
        "Primero descargué los datos abiertos del ayuntamiento y limpié las geometrías duplicadas.",
        "Después los convertí a GeoJSON y probé tres estilos de color distintos. Ganó el verde.",
        "Por último, lo publiqué en una web estática. ¡Gracias a todos por los comentarios!",
    ]),
    ("sybil_tests", T, "en", [
        "Testing an API client? Here's my checklist 🧪🧵",
        "Empty pages. Last pages. Pages with a next_token and zero results.",
        "429s with and without a reset header. 401s when a token expires halfway through pagination.",
        "Unicode in every text field. Yes, including usernames in error messages. #testing",
    ]),
]


def R(author, text, *children, lang="en"):
    return (author, text, lang, list(children))


CONVERSATIONS = [
    ("XDevelopers", T, "en", "Show us what you're building! Reply with a screenshot of your project 👇 #BuildWithX", [
        R("alice", "A little dashboard that charts my follower growth per week. Rust and the users endpoints 🦀",
          R("XDevelopers", "Love it! Are you paging through followers with `max_results=1000`?",
            R("alice", "Yes, and following `next_token` until it runs out. Three requests for my account 😄"))),
        R("ivan_builds", "A bot that tells me when my plants need water. It posts once a day and has more followers than I do. 🌱",
          R("XDevelopers", "This is the content we're here for. 🌱")),
        R("maya_ui", "A timeline viewer with full keyboard navigation and proper empty states."),
        R("bob", "A CLI that decides whether it's a good day for a hike based on my friends' posts. Highly scientific. 🥾"),
    ]),
    ("carol_codes", T, "en", "Unpopular opinion: integration tests against a fake server are worth more than most unit tests. Change my mind. #testing", [
        R("sybil_tests", "Not unpopular in QA land! Fakes let you test the failure paths a real server never gives you on demand.",
          R("carol_codes", "Exactly. When did a real API last give you a 503 on the third page, just for you?",
            R("sybil_tests", "Never on demand. Always at 2 am in production. 😅"))),
        R("bob", "Agreed, as long as someone checks the fake against the real thing now and then.",
          R("carol_codes", "Contract tests! The fake and the client both get checked against the same recorded examples.")),
        R("niaj_dev", "Saving this for the next time my team argues about test pyramids."),
    ]),
    ("alice", C, "en", "What's your coffee order when you need to debug something hard? Mine's a double espresso and silence. ☕", [
        R("rupert_brews", "A flat white, and a second one ready for when the first bug turns out to be two bugs.",
          R("alice", "This is wisdom. Two flat whites it is.")),
        R("bob", "Filter coffee, big mug, no milk. And a walk around the block when I get stuck."),
        R("CoffeeLabDemo", "Come by, the first debugging espresso is on us. ☕",
          R("alice", "Don't tempt me, I'm two streets away 😄")),
        R("grace_ops", "Green tea. Coffee makes me type faster in the wrong direction."),
    ]),
    ("trent_oauth", T, "en", "Question for app developers: do you refresh tokens proactively, or wait for a 401? #OAuth", [
        R("alice", "Proactively, a minute before `expires_in` runs out. And on a 401 as a fallback.",
          R("trent_oauth", "Belt and braces. Good answer.")),
        R("mallory_sec", "Whatever you do, make sure two parallel refreshes can't race and invalidate each other.",
          R("trent_oauth", "Great point. Rotation makes that race very real.",
            R("alice", "We learned that one the hard way. A mutex around the refresh fixed it."))),
        R("ivan_builds", "Wait for the 401, because I'm lazy. Now reconsidering."),
    ]),
    ("dave_hikes", O, "en", "This morning's hike: fog sitting in the valley like a lake. 📷 #hiking #photography", [
        R("peggy_lens", "That light! What were you shooting with?",
          R("dave_hikes", "The tiny 28mm prime on an old mirrorless body. Nothing fancy, just a very early alarm.")),
        R("quinn_trails", "Which trail is this? Adding it to the list.",
          R("dave_hikes", "North ridge loop from the lower car park. Go early, the fog lifts by eight.")),
        R("bob", "Okay, I'm setting an alarm for Saturday."),
    ]),
    ("olivia_maps", Y, "es", "¿Qué ciudad tiene el mejor transporte público que habéis usado? Estoy recopilando ideas para un proyecto. 🚆", [
        R("sam_city", "¡Tokio, sin duda! Puntualidad absurda y estaciones limpísimas.", lang="es"),
        R("frank_synth", "Lyon ! Le tram et le métro ensemble, ça marche très bien. (Perdón, no hablo bien español 😅)",
          R("olivia_maps", "¡Jaja, se entiende perfectamente! Apunto Lyon. 🚋", lang="es"), lang="fr"),
        R("zoe_cycles", "Rotterdam, but I'm biased: I mostly use the bike lanes. 🚲"),
    ]),
    ("erin_bakes", F, "en", "What's the one kitchen tool you'd save in a fire? Mine is my bench scraper. 🍳", [
        R("liam_cooks", "A good chef's knife. Everything else is a bonus.",
          R("erin_bakes", "Fair, but can your knife scoop chopped onions AND clean the counter? 😄")),
        R("priya_k", "My grandmother's cast iron tawa. It's older than me and makes perfect dosas."),
        R("bob", "The dutch oven. Bread, chili, soup. It does everything.",
          R("erin_bakes", "Bob, you just described your entire personality. 🍞")),
    ]),
    ("grace_ops", C, "ja", "大阪でおすすめのカフェを教えてください！作業できるところだと嬉しいです。☕", [
        R("yuki_photo", "中崎町のあたりに静かなカフェがたくさんありますよ。写真もきれいに撮れます。📷",
          R("grace_ops", "ありがとうございます！今週末行ってみます。", lang="ja"), lang="ja"),
    ]),
    ("XDevsDemo", T, "en", "Quick poll-ish: what's harder, OAuth scopes or pagination? Tell us in the replies 👇", [
        R("sybil_tests", "Pagination, because every API does it slightly differently."),
        R("trent_oauth", "Scopes, because people don't read them. Developers included. 😇",
          R("XDevsDemo", "Sounds like a topic for office hours. 👀")),
        R("alice", "Pagination was harder until I stopped trying to be clever. Just follow `next_token`."),
        R("noah_data", "Neither. The hardest part is naming the variables."),
    ]),
    ("victor_rs", T, "en", "Hot take: `unwrap()` in tests is fine. In production code it's a comment that says 'I was sure'. 🦀 #rustlang", [
        R("carol_codes", "I'm stealing 'a comment that says I was sure'. 😂",
          R("victor_rs", "Royalty-free, go for it.")),
        R("grace_ops", "And when it panics at 3 am, the comment was wrong."),
        R("sybil_tests", "Team `expect(\"reason\")` here. At least the panic tells you what you were sure about.",
          R("victor_rs", "The civilised choice.")),
    ]),
    ("sam_city", Y, "en", "Best thing about living in the city: you can walk to three bakeries. Worst thing: you will. 🥐 #citylife", [
        R("zoe_cycles", "Bike to four bakeries. Efficiency. 🚲"),
        R("peggy_lens", "And all three have great window light for photos."),
        R("CityTransitDemo", "Or take Line 4 to the bakeries on the other side of the river. 🚆",
          R("sam_city", "The city's transit account encouraging my pastry habit. Incredible.")),
    ]),
    ("walter_jazz", M, "en", "Which album got you into jazz? For me it was a worn-out record from my uncle's attic. 🎷", [
        R("victor_rs", "A compilation CD from a gas station. No regrets."),
        R("uma_plays", "A piano trio record my teacher lent me. I never gave it back. Sorry, Mrs. K.",
          R("walter_jazz", "That's how jazz spreads: unreturned records.")),
        R("frank_synth", "My dad's vinyl collection. He still asks where the good ones went."),
    ]),
    ("bob", T, "en", "Is learning Rust by rewriting a small work tool a good idea? Asking for me. 🦀", [
        R("carol_codes", "Yes! Small, real, and you already know what it should do. Perfect first project.",
          R("bob", "That's the encouragement I needed. Starting tonight.",
            R("carol_codes", "Ping me when the borrow checker says no. It will. 😄"))),
        R("victor_rs", "Do it, and write the tests first so you know the rewrite behaves the same."),
        R("alice", "Did exactly this last year. Best decision. Happy to pair on it.",
          R("bob", "Taking you up on that! Thursday?",
            R("alice", "Thursday it is. I'll bring coffee. ☕"))),
    ]),
    ("heidi_k", Y, "de", "Hat jemand einen Tipp für ein gutes Café in Kreuzberg, in dem man in Ruhe lesen kann? ☕📚", [
        R("grace_ops", "Not Kreuzberg exactly, but I loved a tiny café by the canal when I visited. I'll find the name!",
          R("heidi_k", "Danke! Ich bin gespannt. 😊", lang="de")),
        R("judy_reads", "Take me with you. I'll bring the books."),
    ]),
    ("judy_reads", G, "en", "Currently reading: a mystery set in a lighthouse. Predicting the twist by page 50. 🔦📚", [
        R("alice", "Report back! I need a new mystery for the train.",
          R("judy_reads", "Will do. So far the lighthouse keeper is very suspicious.")),
    ]),
    ("APIStatusDemo", T, "en", "⚠️ Investigating elevated error rates on the follows endpoints. Updates to follow.", [
        R("noah_data", "Seeing 503s on /2/users/:id/following here too, for what it's worth.",
          R("APIStatusDemo", "Thanks, that matches what we see. A fix is rolling out now.")),
        R("ivan_builds", "My plant bot is confused but okay. 🌱"),
        R("APIStatusDemo", "✅ Resolved: the follows endpoints are back to normal. Thanks for your patience."),
    ]),
]

# Replies to posts outside the scripted conversations: (replier, start of the post's text, reply,
# the author's answer or None, lang). The leading @mentions are added automatically.
REPLIES = [
    ("grace_ops", "Accessibility check:", "Same for internal dashboards. Keyboard first, mouse second.",
     "Internal tools need it most. Thanks!", "en"),
    ("maya_ui", "Happy Friday, developers!", "Keyboard shortcuts for my timeline viewer. Wish me luck! 🚀", None, "en"),
    ("priya_k", "Sunday soup:", "Recipe please! 🙏", "It's on my blog: https://erin.example.org/recipes/tomato-soup", "en"),
    ("erin_bakes", "The bread did not rise.", "Crackers are a valid outcome. Put rosemary on the next batch. 🌿",
     "Accidental cracker business, here I come.", "en"),
    ("zoe_cycles", "Tokyo at 5 am", "The crows really do run the city at that hour.", None, "en"),
    ("niaj_dev", "Community spotlight", "Congrats @alice! Is the CLI open source?", None, "en"),
    ("noah_data", "Finally moved our bot from app-only auth", "60 lines is impressive. Did you write your own PKCE helper?",
     "Yes, and it's tiny: random verifier, SHA-256, base64url. Done.", "en"),
    ("rupert_brews", "大阪の朝のコーヒー", "Good coffee and a fresh Rust project: the best kind of morning. ☕", None, "en"),
    ("liam_cooks", "Fermented hot sauce", "Save me a bottle! 🌶️", "Already labelled with your name.", "en"),
    ("sybil_tests", "Somebody please explain why my tests only pass on Tuesdays",
     "Look for anything that depends on the day of the week: cron expressions, date math, cache keys…",
     "IT WAS A CACHE KEY. Thank you 🙏", "en"),
    ("quinn_trails", "First snow on the peaks", "Microspike season begins! ❄️", None, "en"),
    ("frank_synth", "Herbst in Berlin", "L'automne à Berlin me manque ! Profite bien. 🍂", None, "fr"),
]

# Quote posts: (quoter, start of the quoted post's text, what the quote says, lang).
QUOTE_TWEETS = [
    ("alice", "Refresh token rotation:", "The part everyone gets wrong: store the new refresh token before you do anything else. #OAuth", "en"),
    ("alice", "If your tests need `sleep(5)`", "Printing this and taping it to my monitor. #testing", "en"),
    ("bob", "Proofing dough in the oven", "Can confirm, this changed my sourdough life. 🍞", "en"),
    ("bob", "Wrote a test for an API returning an empty page", "Found this exact case in our client last month. It looped forever. 🙃", "en"),
    ("carol_codes", "Token revocation should be boring", "Same goes for deploys and rollbacks. Boring is a feature.", "en"),
    ("carol_codes", "Clippy suggested a change", "Clippy: occasionally a better programmer than all of us. 📎", "en"),
    ("XDevelopers", "Built a tiny timeline viewer", "Love this! 'Pagination with better PR' might be our new tagline. 💙 #XAPI", "en"),
    ("XDevsDemo", "Testing an API client? Here's my checklist", "Bookmark-worthy checklist from the community 👇 #XAPI", "en"),
    ("trent_oauth", "Store tokens securely", "Sending this to everyone on my team who touches auth code. #OAuth", "en"),
    ("grace_ops", "Timestamps in UTC, always.", "I'll hold the other end of the banner. ⏰", "en"),
    ("niaj_dev", "Things I wish I'd known before writing my first async Rust", "Saving this before I start my first async service next month.", "en"),
    ("ivan_builds", "Building a bot? Refresh tokens", "Wish I'd read this before my plant bot logged itself out every two hours. 🌱", "en"),
    ("maya_ui", "New tutorial: testing your app against a local mock", "Trying this for our front-end tests this week.", "en"),
    ("sybil_tests", "Property-based tests found a bug", "Property-based testing: the gift that keeps on giving. 🧪", "en"),
    ("victor_rs", "Shipping a tiny crate this weekend", "Pluggable clocks are so underrated. Looking forward to this one. 🦀", "en"),
    ("olivia_maps", "Bike racks are now installed", "¡Esto es lo que necesitamos en Madrid también! 🚲", "es"),
    ("zoe_cycles", "From Monday, Line 4", "Faster trains and new bike racks: a good month for commuters. 🚆🚲", "en"),
    ("peggy_lens", "Tokyo at 5 am", "This is why we get up early. 📷", "en"),
    ("quinn_trails", "Trail report: the lake loop", "Useful! Running it on Saturday, poles packed.", "en"),
    ("dave_hikes", "Race recap: finished my first 50k", "Congratulations! Mud is the best medal. 🏅", "en"),
    ("liam_cooks", "Tempering spices in hot ghee", "The sound of a good dinner starting. 🔥", "en"),
    ("erin_bakes", "Cold brew ratio", "Making a jar tonight for tomorrow's bake sale. 🧊", "en"),
    ("uma_plays", "Practising scales for an hour", "Every musician, every day. 🎹", "en"),
    ("sam_city", "The new protected bike lane", "More of this, everywhere, please.", "en"),
    ("frank_synth", "Lo-fi playlist for deep work", "Parfait pour travailler. J'adore le son de ce vieux clavier. 🎧", "fr"),
    ("yuki_photo", "Shot a whole roll of film", "同じ場所でも、光で全然違う写真になりますよね。📷", "ja"),
]

# Retweets: these accounts retweet this many times (organisations only posts about the API),
# then drawn people fill up to N_RETWEETS.
RETWEET_SLOTS = ["XDevelopers"] * 4 + ["alice", "alice", "bob", "bob", "carol_codes", "carol_codes", "XDevsDemo"]
N_RETWEETS = 25

# How many likes a typical post by each account gets (scaled randomly per post).
FAME = {"XDevelopers": 420, "XDevsDemo": 130, "APIStatusDemo": 90, "CoffeeLabDemo": 60,
        "CityTransitDemo": 55, "carol_codes": 45, "victor_rs": 38, "grace_ops": 30, "trent_oauth": 30,
        "alice": 26, "dave_hikes": 22, "rupert_brews": 18, "bob": 12}

# ---------------------------------------------------------------------------------------------
# Spaces. Times are against CUTOFF (the demo loader moves them to the present); who is in them
# refers to usernames; topics are names of roost's topic catalogue (TOPIC_IDS).
# ---------------------------------------------------------------------------------------------

SPACES = [
    dict(state="live", title="Rust API office hours 🦀", creator="carol_codes", hosts=["victor_rs"],
         speakers=["alice", "bob", "grace_ops"], invited=["sybil_tests"], started_at="2026-10-31T21:30:00Z",
         participant_count=42, topics=["Software development", "Open source"]),
    dict(state="live", title="Coffee & code: Saturday co-working ☕", creator="CoffeeLabDemo", hosts=["rupert_brews"],
         speakers=["maya_ui", "alice"], invited=[], started_at="2026-10-31T21:00:00Z", participant_count=23,
         topics=["Coffee", "Software development"]),
    dict(state="live", title="X API v2 Q&A: pagination, expansions and rate limits", creator="XDevelopers",
         hosts=["XDevsDemo"], speakers=["trent_oauth", "sybil_tests"], invited=["alice", "noah_data"],
         started_at="2026-10-31T22:30:00Z", participant_count=318, topics=["Technology", "Web development"]),
    dict(state="live", title="Weekend hiking photo share 🥾📷", creator="dave_hikes", hosts=[],
         speakers=["peggy_lens", "quinn_trails", "yuki_photo"], invited=[], started_at="2026-10-31T23:45:00Z",
         participant_count=17, topics=["Outdoors", "Photography"]),
    dict(state="scheduled", title="OAuth 2.0 and PKCE deep dive for API developers", creator="trent_oauth",
         hosts=[], speakers=["mallory_sec", "alice"], invited=["alice", "bob"], created_at="2026-10-22T12:00:00Z",
         scheduled_start="2026-12-03T18:00:00Z", subscriber_count=64, topics=["Computer security", "Web development"]),
    dict(state="scheduled", title="Testing async Rust without tears", creator="sybil_tests", hosts=["carol_codes"],
         speakers=["victor_rs"], invited=[], created_at="2026-10-27T09:30:00Z",
         scheduled_start="2026-12-10T17:00:00Z", subscriber_count=38, topics=["Software development"]),
    dict(state="scheduled", title="Coffee cupping live: washed vs natural ☕", creator="rupert_brews",
         hosts=["CoffeeLabDemo"], speakers=[], invited=["erin_bakes"], created_at="2026-10-25T08:00:00Z",
         scheduled_start="2026-11-28T10:00:00Z", subscriber_count=27, is_ticketed=True, topics=["Coffee", "Food"]),
    dict(state="scheduled", title="Mapas abiertos y transporte público 🗺️", creator="olivia_maps", hosts=[],
         speakers=["sam_city"], invited=["zoe_cycles"], created_at="2026-10-29T19:45:00Z",
         scheduled_start="2026-12-15T19:00:00Z", subscriber_count=12, lang="es", topics=["Cities", "Cycling"]),
    dict(state="ended", title="Launching the X API v2 demo: what's new", creator="XDevelopers", hosts=["XDevsDemo"],
         speakers=["APIStatusDemo"], invited=[], created_at="2026-09-10T14:00:00Z",
         started_at="2026-09-15T17:00:00Z", ended_at="2026-09-15T18:02:00Z", participant_count=540,
         topics=["Technology"]),
    dict(state="ended", title="Sourdough troubleshooting clinic 🍞", creator="erin_bakes", hosts=["bob"],
         speakers=["liam_cooks", "priya_k"], invited=[], created_at="2026-10-01T09:00:00Z",
         started_at="2026-10-04T15:00:00Z", ended_at="2026-10-04T16:20:00Z", participant_count=31,
         topics=["Food"]),
    dict(state="ended", title="Late-night jazz listening party 🎷", creator="walter_jazz", hosts=[],
         speakers=["victor_rs", "uma_plays"], invited=[], created_at="2026-10-18T21:40:00Z",
         started_at="2026-10-18T22:00:00Z", ended_at="2026-10-19T00:45:00Z", participant_count=19,
         topics=["Music", "Jazz"]),
]

# roost's topic catalogue (crates/roost/src/content/topics.rs), by name.
TOPIC_IDS = {
    "Technology": "1600000000000000001", "Software development": "1600000000000000002",
    "Web development": "1600000000000000003", "Open source": "1600000000000000004",
    "Computer security": "1600000000000000005", "Data science": "1600000000000000006",
    "Business & finance": "1600000000000000007", "Food": "1600000000000000008",
    "Coffee": "1600000000000000009", "Outdoors": "1600000000000000010",
    "Photography": "1600000000000000011", "Music": "1600000000000000012", "Jazz": "1600000000000000013",
    "Cities": "1600000000000000014", "Cycling": "1600000000000000015", "Books": "1600000000000000016",
    "Travel": "1600000000000000017", "Science": "1600000000000000018", "Gaming": "1600000000000000019",
    "Sports": "1600000000000000020",
}

# ---------------------------------------------------------------------------------------------
# Coverage: content that gives every field and expansion roost fills something to show, added
# in a third round and drawn from COVERAGE_SEED after everything above (so nothing above moves).
# ---------------------------------------------------------------------------------------------

# Accounts added later: the user record as in USERS, plus whom they follow and who follows them
# (kept out of the drawn follow graph above). PirateRadioDemo is withheld in two countries
# (`withheld.country_codes`; X adds `scope: user`), so its posts are withheld there too.
LATER_USERS = [
    dict(username="PirateRadioDemo", name="Pirate Radio (demo)", created_at="2024-06-01T20:00:00Z",
         description="Unlicensed internet radio (demo account): rare grooves, live bootlegs, no ads. Listen at https://pirateradio.example.org 📻 #jazz",
         url="https://pirateradio.example.org", withheld=dict(country_codes=["DE", "GB"]), groups=["music"],
         follows=["XDevelopers", "walter_jazz", "frank_synth", "uma_plays"],
         followers=["walter_jazz", "frank_synth", "uma_plays", "victor_rs"]),
]

# Long posts (over 280 characters, X's note tweets): the API shows `text` cut at the last word
# boundary within 270 characters and the whole in `note_tweet`. Each has a mention, and between
# them hashtags and links, on both sides of the cut, so `entities` and `note_tweet.entities`
# differ and `entities.note.mentions.username` brings users `entities.mentions.username` does
# not. validate() checks that the cut falls where this promises.
LONG_POSTS = [
    ("XDevelopers", T, "en",
     "📘 Long posts, explained. The X API v2 keeps posts over 280 characters whole: `text` holds the "
     "first part, cut at a word near the limit, and `note_tweet.text` all of it. "
     "Thanks @XDevsDemo for the guide: https://developer.example.com/docs/long-posts #XAPI\n\n"
     "Two things to know. Mentions, hashtags and links after the cut are only in `note_tweet.entities`, "
     "so read both. And `expansions=entities.note.mentions.username` brings every user the post "
     "mentions, like @trent_oauth and @sybil_tests, who take your questions at office hours: "
     "https://developer.example.com/office-hours #OAuth"),
    ("alice", T, "en",
     "Long-form notes from moving our bot to OAuth 2.0 with PKCE, because a thread felt like too many "
     "posts. Big thanks to @bob for pairing on the callback handler. Short version: PKCE was easy, "
     "refresh tokens were not. https://alice.example.com/notes/pkce #OAuth\n\n"
     "What went wrong, in order: we asked for `offline.access` but never stored the new refresh token "
     "after a rotation, so the bot signed itself out every two hours. Then two workers refreshed at "
     "once and the second one revoked the whole family. A mutex around the refresh fixed it, as "
     "@trent_oauth had warned. @carol_codes reviewed the Rust side 🦀 #rustlang "
     "https://alice.example.com/notes/pkce-lessons"),
    ("olivia_maps", Y, "es",
     "Actualización del mapa de carriles bici de Madrid 🚲🗺️: ya incluye los 38 km nuevos de este año, "
     "los aparcabicis y las estaciones de bici pública. Gracias a @zoe_cycles por revisar la leyenda. "
     "Mapa: https://olivia.example.org/mapa-bici #OpenData\n\n"
     "Próximos pasos: añadir las pendientes (para quien sube la cuesta de Moyano cada día), marcar los "
     "tramos en obras y cruzar los datos con las líneas de bus. @CityTransitDemo y @sam_city ya me han "
     "pasado ideas. Código y datos abiertos: https://olivia.example.org/mapa-bici/datos #mapas"),
]

# Posts with something X sets per post: (author, group, lang, text, attributes). Attributes are
# output keys: `reply_settings` (who may reply: X's everyone, following, mentionedUsers,
# verified, subscribers; validate() checks every reply obeys it), `possibly_sensitive`,
# `withheld` (`copyright`, `country_codes`; X adds `scope: tweet`).
SPECIAL_POSTS = [
    ("XDevelopers", T, "en",
     "Office hours on Thursday with @trent_oauth and @sybil_tests: OAuth scopes, long posts and pagination. "
     "Only our guests can reply here, so quote this post with your questions! 🎙️ #XAPI",
     dict(reply_settings="mentionedUsers")),
    ("APIStatusDemo", T, "en",
     "🔧 Maintenance complete: the demo token endpoint is back to normal. Replies are limited to accounts "
     "we follow; report problems at https://status.example.com",
     dict(reply_settings="following")),
    ("victor_rs", T, "en",
     "Limiting replies to verified accounts for a day while the reply bots calm down. Normal service "
     "tomorrow. 🦀",
     dict(reply_settings="verified")),
    ("uma_plays", M, "en",
     "Subscribers' Q&A: ask me anything about the old keyboard and the lo-fi recordings. 🎹",
     dict(reply_settings="subscribers")),
    ("quinn_trails", O, "en",
     "Race-day feet after the 50k. Honestly, don't open this while eating: "
     "https://photos.example.org/quinn/50k-feet 🩹 #trailrunning",
     dict(possibly_sensitive=True)),
    ("liam_cooks", F, "en",
     "Whole-animal butchery class today. The photos are graphic, you've been warned: "
     "https://photos.example.org/liam/butchery 🔪",
     dict(possibly_sensitive=True)),
    ("walter_jazz", M, "en",
     "Recorded Tuesday's whole jam session, both sets, the headliner's new tune included. Listen while "
     "it lasts: https://recordings.example.org/walter/tuesday 🎺",
     dict(withheld=dict(copyright=True, country_codes=["DE", "GB", "US"]))),
    ("peggy_lens", O, "en",
     "Street portraits from the Saturday market in Lyon: 24 strangers, 24 stories. 📷 #photography "
     "https://peggy.example.com/market-portraits",
     dict(withheld=dict(copyright=False, country_codes=["FR"]))),
    ("PirateRadioDemo", M, "en",
     "📻 On air now: three hours of rare 70s jazz-funk, no ads, no licence. Tune in: "
     "https://pirateradio.example.org/live",
     dict()),
    ("PirateRadioDemo", M, "en",
     "Tonight's bootleg: a live set taped from the back of a club in 1978. Crackles included. 🎷 #jazz",
     dict()),
]

# Replies to the posts above: (replier, start of the post's text, reply, lang). The leading
# @mentions are added automatically.
LATER_REPLIES = [
    ("bob", "📘 Long posts, explained.", "Finally! Our client dropped everything after the cut. Reading `note_tweet` now.", "en"),
    ("carol_codes", "Long-form notes from moving our bot", "The mutex-around-the-refresh lesson deserves its own post. 🦀", "en"),
    ("zoe_cycles", "Actualización del mapa de carriles bici", "The new legend reads so much better. Great work! 🚲", "en"),
    ("trent_oauth", "Office hours on Thursday", "Bring your refresh-token stories. 🔐", "en"),
    ("sybil_tests", "Office hours on Thursday", "And your weirdest empty pages. 🧪", "en"),
    ("XDevsDemo", "🔧 Maintenance complete", "Thanks for the quick turnaround! 🙌", "en"),
    ("carol_codes", "Limiting replies to verified accounts", "The bots have found the Rust posts. Stay strong. 🦀", "en"),
    ("walter_jazz", "Tonight's bootleg", "That bass line! Who's playing?", "en"),
]

# Quotes of the posts above: (quoter, start of the quoted post's text, what the quote says, lang).
# An empty quote is a quote without words (X's lang `zxx`).
LATER_QUOTES = [
    ("XDevsDemo", "📘 Long posts, explained.", "", "zxx"),
    ("maya_ui", "Office hours on Thursday", "Quoting as asked: how do you test a timeline viewer against an empty page that has a next_token? #XAPI", "en"),
    ("yuki_photo", "Street portraits from the Saturday market", "", "zxx"),
]

# ---------------------------------------------------------------------------------------------
# Building.
# ---------------------------------------------------------------------------------------------


def build():
    rng = Random(SEED)
    # Everything of the third round (COVERAGE) draws from here, never from rng or extra.
    crng = Random(COVERAGE_SEED)

    # --- users --------------------------------------------------------------------------------
    users = []
    by_name = {}
    for spec in USERS:
        created = ms(spec["created_at"])
        uid = spec.get("id") or str(snowflake(created, rng.randrange(1024), rng.randrange(16)))
        u = dict(spec, id=uid, _created=created)
        users.append(u)
        by_name[u["username"]] = u
    protected = {u["username"] for u in users if u.get("protected")}
    # The drawn follow graph and the retweeters are the original accounts'.
    names = [u["username"] for u in users]
    for spec in LATER_USERS:
        created = ms(spec["created_at"])
        uid = str(snowflake(created, crng.randrange(1024), crng.randrange(16)))
        u = dict(spec, id=uid, _created=created, _later=True)
        users.append(u)
        by_name[u["username"]] = u

    # --- follows ------------------------------------------------------------------------------
    follows = []  # (source, target)
    follow_set = set()

    def follow(s, t):
        if s == t or (s, t) in follow_set:
            return
        if t in protected and s not in PROTECTED_FOLLOWERS[t]:
            return
        follow_set.add((s, t))
        follows.append((s, t))

    for n in names:
        follow(n, "XDevelopers")
    for t in ALICE_FOLLOWS:
        follow("alice", t)
    for t in BOB_FOLLOWS:
        follow("bob", t)
    for s in ALICE_FOLLOWERS:
        follow(s, "alice")
    for t, sources in PROTECTED_FOLLOWERS.items():
        for s in sources:
            follow(s, t)
    for s, t in EXTRA_FOLLOWS:
        follow(s, t)
    fixed_sources = {"alice", "bob"}
    for s in names:
        if s in fixed_sources:
            continue
        for t in names:
            if t in protected or t == "alice":  # alice's followers are exactly ALICE_FOLLOWERS
                continue
            shared = len(set(by_name[s]["groups"]) & set(by_name[t]["groups"]))
            p = 0.09 + 0.2 * shared + POPULAR.get(t, 0.0)
            if s in ORGS:
                p *= 0.25
            if rng.random() < p:
                follow(s, t)
    for s, t in list(follows):
        if t not in fixed_sources and (t not in ORGS or rng.random() < 0.3) and rng.random() < FOLLOW_BACK:
            follow(t, s)

    following = {n: set() for n in names}
    for s, t in follows:
        following[s].add(t)

    follow_out = []
    for s, t in follows:
        lo = max(by_name[s]["_created"], by_name[t]["_created"], FOLLOWS_FROM) + DAY
        at = rng.randrange(lo, FOLLOWS_UNTIL) // 1000 * 1000
        follow_out.append((at, s, t))
    follow_out.sort(key=lambda x: (x[0], x[1], x[2]))

    # --- tweets -------------------------------------------------------------------------------
    tweets = []
    used_seconds = set()

    def claim(t):
        t = t // 1000 * 1000
        while t in used_seconds:
            t += 1000
        used_seconds.add(t)
        return t

    def post_time(author, text, r=rng):
        lo = max(POSTS_FROM, by_name[author]["_created"] + DAY)
        day = r.randrange(lo // DAY + 1, POSTS_UNTIL // DAY)
        # A post that names its day is posted on that day (day 0, 1970-01-01, was a Thursday).
        for hint, weekday in WEEKDAY_HINTS.items():
            if hint in text:
                day -= (day + 3 - weekday) % 7
                if day < lo // DAY + 1:
                    day += 7
        # Mostly daytime somewhere: 06:00-23:59 UTC.
        return day * DAY + r.randrange(6 * HOUR, 24 * HOUR)

    def add(author, text, t, lang, group, kind, parent=None, quoted=None, retweeted=None, r=rng, attrs=None):
        t = claim(t)
        tid = snowflake(t, r.randrange(1024), r.randrange(4))
        tw = dict(_id=tid, _author=author, _text=text, _t=t, _lang=lang, _group=group, _kind=kind,
                  _parent=parent, _quoted=quoted, _retweeted=retweeted,
                  _root=parent["_root"] if parent else tid, _later=r is crng, _attrs=attrs or {})
        tweets.append(tw)
        return tw

    def reply_text(author, parent, text):
        handles = []
        for h in (parent["_author"], root_of(parent)["_author"]):
            if h != author and h not in handles:
                handles.append(h)
        return " ".join("@" + h for h in handles) + (" " if handles else "") + text

    by_id = {}

    def root_of(tw):
        return by_id[tw["_root"]]

    def index(tw):
        by_id[tw["_id"]] = tw
        return tw

    for author, posts in ORIGINALS.items():
        for group, lang, text in posts:
            index(add(author, text, post_time(author, text), lang, group, "original"))

    for author, group, lang, parts in THREADS:
        prev = index(add(author, parts[0], post_time(author, parts[0]), lang, group, "original"))
        for text in parts[1:]:
            prev = index(add(author, text, prev["_t"] + rng.randrange(MINUTE, 6 * MINUTE), lang, group,
                             "thread", parent=prev))

    def grow(parent, node, group):
        author, text, lang, children = node
        delay = rng.randrange(4 * MINUTE, 9 * HOUR)
        tw = index(add(author, reply_text(author, parent, text), parent["_t"] + delay, lang, group, "reply",
                       parent=parent))
        for child in children:
            grow(tw, child, group)

    for author, group, lang, text, replies in CONVERSATIONS:
        root = index(add(author, text, post_time(author, text), lang, group, "original"))
        for node in replies:
            grow(root, node, group)

    def find(prefix):
        """The one post (not a reply or retweet) whose text starts with `prefix`."""
        found = [tw for tw in tweets if tw["_kind"] in ("original", "quote") and tw["_text"].startswith(prefix)]
        if len(found) != 1:
            raise SystemExit(f"{prefix!r} matches {len(found)} posts")
        return found[0]

    def later(t, lo, hi, r=rng):
        return t + r.randrange(lo, hi)

    # Quotes first, so that retweets and replies can pick them up.
    for quoter, prefix, text, lang in QUOTE_TWEETS:
        target = find(prefix)
        if quoter == target["_author"] or target["_author"] in protected:
            raise SystemExit(f"{quoter} cannot quote {prefix!r}")
        index(add(quoter, text, later(target["_t"], 20 * MINUTE, 3 * DAY), lang, target["_group"], "quote",
                  quoted=target))

    # Retweets: of public original posts, preferably in the retweeter's interests and by accounts it follows.
    people = [n for n in names if n not in ORGS and n not in ("alice", "bob", "carol_codes")]
    slots = list(RETWEET_SLOTS)
    while len(slots) < N_RETWEETS:
        n = rng.choice(people)
        if n not in protected or rng.random() < 0.5:
            slots.append(n)
    retweeted = set()
    for engager in slots:
        groups = set(by_name[engager]["groups"])
        pool = [tw for tw in tweets
                if tw["_kind"] == "original" and tw["_author"] != engager
                and tw["_author"] not in protected and (engager, tw["_id"]) not in retweeted
                and (engager not in ORGS or re.search(r"API|OAuth", tw["_text"]))]
        for narrow in (lambda tw: tw["_group"] in groups and tw["_author"] in following[engager],
                       lambda tw: tw["_group"] in groups,
                       lambda tw: True):
            found = [tw for tw in pool if narrow(tw)]
            if found:
                break
        target = rng.choice(found)
        retweeted.add((engager, target["_id"]))
        text = "RT @%s: %s" % (target["_author"], target["_text"])
        if len(text) > 280:
            text = text[:279] + "…"
        index(add(engager, text, later(target["_t"], 5 * MINUTE, 2 * DAY), target["_lang"], target["_group"],
                  "retweet", retweeted=target))

    for replier, prefix, text, answer, lang in REPLIES:
        target = find(prefix)
        if replier == target["_author"]:
            raise SystemExit(f"{replier} would reply to their own {prefix!r}")
        r = index(add(replier, reply_text(replier, target, text), later(target["_t"], 3 * MINUTE, DAY), lang,
                      target["_group"], "reply", parent=target))
        if answer:
            author = target["_author"]
            index(add(author, reply_text(author, r, answer), later(r["_t"], 2 * MINUTE, 6 * HOUR), target["_lang"],
                      target["_group"], "reply", parent=r))

    # --- the third round (COVERAGE) -------------------------------------------------------------
    def later_post(author, group, lang, text, attrs):
        if any(tw["_kind"] == "original" and tw["_text"] == text for tw in tweets):
            raise SystemExit(f"{author} posts {text[:30]!r} twice")
        t = post_time(author, text, r=crng)
        return index(add(author, text, t, lang, group, "original", r=crng, attrs=attrs))

    for author, group, lang, text in LONG_POSTS:
        later_post(author, group, lang, text, {})
    for author, group, lang, text, attrs in SPECIAL_POSTS:
        later_post(author, group, lang, text, attrs)
    for replier, prefix, text, lang in LATER_REPLIES:
        target = find(prefix)
        if replier == target["_author"]:
            raise SystemExit(f"{replier} would reply to their own {prefix!r}")
        index(add(replier, reply_text(replier, target, text), later(target["_t"], 3 * MINUTE, DAY, r=crng), lang,
                  target["_group"], "reply", parent=target, r=crng))
    for quoter, prefix, text, lang in LATER_QUOTES:
        target = find(prefix)
        if quoter == target["_author"] or target["_author"] in protected:
            raise SystemExit(f"{quoter} cannot quote {prefix!r}")
        index(add(quoter, text, later(target["_t"], 20 * MINUTE, 3 * DAY, r=crng), lang, target["_group"], "quote",
                  quoted=target, r=crng))

    # --- metrics and output ------------------------------------------------------------------
    tweets.sort(key=lambda tw: tw["_id"])
    out_tweets = []
    for tw in tweets:
        author = tw["_author"]
        fame = FAME.get(author, 8)
        r = crng if tw["_later"] else rng
        if tw["_kind"] == "retweet":
            likes = bookmarks = impressions = 0
        else:
            scale = 0.25 if tw["_kind"] in ("reply", "thread") else 1.0
            likes = int(fame * scale * r.lognormvariate(0, 0.7))
            bookmarks = int(likes * r.uniform(0.0, 0.18))
            impressions = int(likes * r.uniform(25, 90)) + r.randrange(15, 400)
        o = {"id": str(tw["_id"]), "text": tw["_text"], "author_id": by_name[author]["id"],
             "created_at": iso(tw["_t"]), "conversation_id": str(tw["_root"]), "lang": tw["_lang"]}
        refs = []
        if tw["_parent"]:
            o["in_reply_to_user_id"] = by_name[tw["_parent"]["_author"]]["id"]
            refs.append({"type": "replied_to", "id": str(tw["_parent"]["_id"])})
        if tw["_quoted"]:
            refs.append({"type": "quoted", "id": str(tw["_quoted"]["_id"])})
        if tw["_retweeted"]:
            refs.append({"type": "retweeted", "id": str(tw["_retweeted"]["_id"])})
        if refs:
            o["referenced_tweets"] = refs
        attrs = tw["_attrs"]
        o["reply_settings"] = attrs.get("reply_settings", "everyone")
        o["source"] = "roost demo"
        if attrs.get("possibly_sensitive"):
            o["possibly_sensitive"] = True
        o["public_metrics"] = {"like_count": likes, "bookmark_count": bookmarks, "impression_count": impressions}
        if "withheld" in attrs:
            o["withheld"] = dict(attrs["withheld"], scope="tweet")
        out_tweets.append(o)

    extra = Random(EXTRA_SEED)
    out_users = []
    for u in users:
        o = {"id": u["id"], "username": u["username"], "name": u["name"], "created_at": iso(u["_created"]),
             "description": u["description"], "verified": u.get("verified", False),
             "protected": u.get("protected", False)}
        if "password" in u:
            o["password"] = u["password"]
        for k in ("location", "url"):
            if k in u:
                o[k] = u[k]
        o["profile_image_url"] = "https://images.example.org/profile/%s/%s_normal.png" % (u["id"], u["username"].lower())
        # People with a website and every organisation have a banner.
        if "url" in u or u["username"] in ORGS:
            o["profile_banner_url"] = "https://images.example.org/profile_banners/%s/1500x500" % u["id"]
        o["verified_type"] = u.get("verified_type", "none")
        o["confirmed_email"] = "%s@example.com" % u["username"].lower()
        fame = FAME.get(u["username"], 8)
        r = crng if u.get("_later") else extra
        o["public_metrics"] = {"listed_count": int(fame * r.uniform(0.05, 0.4)),
                               "like_count": r.randrange(40, 4000)}
        if "withheld" in u:
            o["withheld"] = dict(u["withheld"], scope="user")
        if u["username"] in PINS:
            prefix = PINS[u["username"]]
            mine = [tw for tw in tweets if tw["_author"] == u["username"] and tw["_text"].startswith(prefix)]
            if len(mine) != 1:
                raise SystemExit(f"pin for {u['username']} matches {len(mine)} tweets")
            o["pinned_tweet_id"] = str(mine[0]["_id"])
        out_users.append(o)

    for spec in LATER_USERS:
        n = spec["username"]
        for s, t in [(n, x) for x in spec["follows"]] + [(x, n) for x in spec["followers"]]:
            if (s, t) in follow_set or s == t or t in protected:
                raise SystemExit(f"{s} -> {t} cannot be a later follow")
            follow_set.add((s, t))
            lo = max(by_name[s]["_created"], by_name[t]["_created"], FOLLOWS_FROM) + DAY
            follow_out.append((crng.randrange(lo, FOLLOWS_UNTIL) // 1000 * 1000, s, t))
    follow_out.sort(key=lambda x: (x[0], x[1], x[2]))
    out_follows = [{"source_user_id": by_name[s]["id"], "target_user_id": by_name[t]["id"], "created_at": iso(at)}
                   for at, s, t in follow_out]
    pending = []
    for s, t in PENDING_FOLLOWS:
        if (s, t) in follow_set or t not in protected:
            raise SystemExit(f"{s} -> {t} cannot be a pending request")
        lo = max(by_name[s]["_created"], by_name[t]["_created"], FOLLOWS_FROM) + DAY
        pending.append((extra.randrange(lo, FOLLOWS_UNTIL) // 1000 * 1000, s, t))
    pending.sort()
    out_follows += [{"source_user_id": by_name[s]["id"], "target_user_id": by_name[t]["id"], "created_at": iso(at),
                     "pending": True} for at, s, t in pending]

    out_spaces = []
    space_ids = set()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    for sp in SPACES:
        while True:
            sid = "1" + "".join(rng.choice(alphabet) for _ in range(12))
            if sid not in space_ids:
                space_ids.add(sid)
                break
        ids = lambda ns: [by_name[n]["id"] for n in ns]
        if "created_at" in sp:
            created = ms(sp["created_at"])
        else:
            created = ms(sp["started_at"]) - rng.randrange(2 * MINUTE, 20 * MINUTE) // 1000 * 1000
        o = {"id": sid, "state": sp["state"], "title": sp["title"], "creator_id": by_name[sp["creator"]]["id"],
             "host_ids": ids([sp["creator"]] + sp["hosts"]), "speaker_ids": ids(sp["speakers"]),
             "invited_user_ids": ids(sp["invited"]), "created_at": iso(created)}
        for k in ("started_at", "ended_at", "scheduled_start"):
            if k in sp:
                o[k] = iso(ms(sp[k]))
        # Last changed: an ended Space when it ended, a live one since it started (speakers come
        # and go), a scheduled one some time after it was made (its description, its time).
        if sp["state"] == "ended":
            o["updated_at"] = o["ended_at"]
        else:
            since = ms(sp["started_at"]) if sp["state"] == "live" else created
            o["updated_at"] = iso(crng.randrange(since, CUTOFF) // 1000 * 1000)
        o["participant_count"] = sp.get("participant_count", 0)
        o["subscriber_count"] = sp.get("subscriber_count", 0)
        o["lang"] = sp.get("lang", "en")
        o["is_ticketed"] = sp.get("is_ticketed", False)
        o["topic_ids"] = [TOPIC_IDS[n] for n in sp["topics"]]
        out_spaces.append(o)

    return {"users": out_users, "tweets": out_tweets, "follows": out_follows, "spaces": out_spaces}


# ---------------------------------------------------------------------------------------------
# Checking: every rule of the import format, plus the demo's own promises.
# ---------------------------------------------------------------------------------------------

ID_RE = re.compile(r"^[0-9]{1,19}$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SPACE_ID_RE = re.compile(r"^[a-zA-Z0-9]{13}$")
MENTION_RE = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9_]{1,15})")
URL_RE = re.compile(r"https?://([^/\s]+)")


REPLY_SETTINGS = ("everyone", "following", "mentionedUsers", "verified", "subscribers")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


def display_text(text):
    """The text roost (like X) shows of a long post: cut at the last whitespace within 270
    characters (crates/roost/src/content/world.rs)."""
    if len(text) <= 280:
        return text
    head = text[:270]
    cut = max((i for i, c in enumerate(head) if c.isspace()), default=0)
    return (head[:cut] if cut > 0 else head).rstrip()


def check_withheld(w, scope, what):
    codes = w.get("country_codes")
    check(isinstance(codes, list) and codes and len(set(codes)) == len(codes)
          and all(isinstance(c, str) and COUNTRY_RE.match(c) for c in codes), f"{what}: withheld.country_codes")
    check(w.get("scope") == scope, f"{what}: withheld.scope is {scope}")
    if scope == "tweet":
        check(set(w) == {"copyright", "country_codes", "scope"} and isinstance(w["copyright"], bool),
              f"{what}: withheld.copyright")
    else:
        check(set(w) == {"country_codes", "scope"}, f"{what}: withheld keys")


def check(cond, msg):
    if not cond:
        raise SystemExit("demo data check failed: " + msg)


def ts(s, what, allow_future=False):
    check(isinstance(s, str) and TS_RE.match(s), f"{what}: bad timestamp {s!r}")
    t = ms(s[:19] + "Z") + int(s[20:23])
    check(iso(t) == s, f"{what}: timestamp does not round-trip")
    if not allow_future:
        check(t < CUTOFF, f"{what}: {s} is not before 2026-11-01")
    return t


def snowflake_id(s, what):
    check(isinstance(s, str) and ID_RE.match(s) and int(s) < 2**63, f"{what}: bad id {s!r}")
    return int(s)


def validate(data):
    check(set(data) == {"users", "tweets", "follows", "spaces"}, "top-level keys")
    users, tweets, follows, spaces = data["users"], data["tweets"], data["follows"], data["spaces"]

    # users
    check(users[0]["id"] == "1000000000000000001" and users[0]["username"] == "alice"
          and users[0]["name"] == "Alice Example" and users[0]["password"] == "alice-password", "first user is alice")
    check(users[1]["id"] == "1000000000000000002" and users[1]["username"] == "bob"
          and users[1]["name"] == "Bob Example" and users[1]["password"] == "bob-password", "second user is bob")
    check(30 <= len(users) <= 40, "30-40 users")
    uid = {}
    lower = set()
    for u in users:
        snowflake_id(u["id"], "user id")
        check(u["id"] not in uid, f"duplicate user id {u['id']}")
        uid[u["id"]] = u
        check(USERNAME_RE.match(u["username"]), f"username {u['username']!r}")
        check(u["username"].lower() not in lower, f"duplicate username {u['username']}")
        lower.add(u["username"].lower())
        check(isinstance(u["name"], str) and 1 <= len(u["name"]) <= 50, f"name of {u['username']}")
        check(1 <= len(u["description"]) <= 160, f"description of {u['username']} is {len(u['description'])} chars")
        check(len(u.get("location", "")) <= 30, f"location of {u['username']}")
        ts(u["created_at"], f"user {u['username']} created_at")
        check(isinstance(u["verified"], bool) and isinstance(u["protected"], bool), "verified/protected are bools")
        check(u["verified_type"] in ("none", "blue", "business", "government"), "verified_type")
        check((u["verified_type"] != "none") == u["verified"], f"verified_type agrees with verified for {u['username']}")
        for k in ("url", "profile_image_url", "profile_banner_url"):
            if k in u:
                m = re.match(r"^https://([^/]+)(/.*)?$", u[k])
                check(m and re.search(r"(^|\.)example\.(com|org)$", m.group(1)), f"{k} of {u['username']}")
        if "password" in u:
            check(u["username"] in ("alice", "bob", "judy_reads"), "only alice, bob and judy_reads have passwords")
        check(u["confirmed_email"] == u["username"].lower() + "@example.com", f"email of {u['username']}")
        if "withheld" in u:
            check_withheld(u["withheld"], "user", f"user {u['username']}")
        m = u["public_metrics"]
        check(set(m) == {"listed_count", "like_count"} and all(isinstance(v, int) and v >= 0 for v in m.values()),
              f"public_metrics of {u['username']}")
    byname = {u["username"]: u for u in users}
    check(byname["XDevelopers"]["id"] == "2244994945" and byname["XDevelopers"]["name"] == "Developers"
          and byname["XDevelopers"]["verified"] and byname["XDevelopers"]["verified_type"] == "business", "XDevelopers")
    check(sum(u["verified"] for u in users) >= 4, "several verified accounts")
    protected = {u["id"] for u in users if u["protected"]}
    check(4 <= len(protected) <= 5, "4-5 protected accounts")
    check(any(len(u["id"]) <= 9 for u in users) and any(len(u["id"]) >= 18 for u in users), "mix of id lengths")

    # tweets
    check(300 <= len(tweets) <= 420, f"300-420 tweets (have {len(tweets)})")
    check(any("withheld" in u for u in users), "a withheld account")
    follow_pairs = {(f["source_user_id"], f["target_user_id"]) for f in follows}
    tid = {}
    when = {}  # tweet id -> Unix ms
    prev_id = -1
    for t in tweets:
        i = snowflake_id(t["id"], "tweet id")
        check(t["id"] not in tid, f"duplicate tweet id {t['id']}")
        created = ts(t["created_at"], f"tweet {t['id']}")
        check((i >> 22) + TWITTER_EPOCH_MS == created, f"tweet {t['id']} id does not match created_at")
        check(i > prev_id, "tweets listed in id order")
        prev_id = i
        when[t["id"]] = created
        tid[t["id"]] = t
    times = sorted((when[t["id"]], int(t["id"])) for t in tweets)
    check([x[1] for x in times] == sorted(x[1] for x in times), "sorting by id == sorting by time")
    check(len(set(when.values())) == len(tweets), "tweet times are distinct")
    per_author = {}
    for t in tweets:
        check(t["author_id"] in uid, f"tweet {t['id']} author")
        per_author[t["author_id"]] = per_author.get(t["author_id"], 0) + 1
        quotes = any(r["type"] == "quoted" for r in t.get("referenced_tweets", []))
        check(isinstance(t["text"], str) and (1 <= len(t["text"]) <= 1000 or (quotes and t["text"] == "")),
              f"tweet {t['id']} text length (empty only in a quote)")
        # X's `zxx`: no linguistic content (a quote without words), as POST /2/tweets gives one.
        check(t["lang"] == "zxx" if t["text"] == "" else t["lang"] in ("en", "es", "fr", "de", "ja"),
              f"tweet {t['id']} lang")
        check(t["reply_settings"] in REPLY_SETTINGS, f"tweet {t['id']} reply_settings")
        check(t.get("possibly_sensitive", True) is True, f"tweet {t['id']}: possibly_sensitive is given only when true")
        if "withheld" in t:
            check_withheld(t["withheld"], "tweet", f"tweet {t['id']}")
        m = t["public_metrics"]
        check(all(isinstance(m[k], int) and m[k] >= 0 for k in ("like_count", "bookmark_count", "impression_count")),
              "metrics")
        for h in MENTION_RE.findall(t["text"]):
            check(h.lower() in lower, f"tweet {t['id']} mentions unknown @{h}")
        for host in URL_RE.findall(t["text"]):
            check(re.search(r"(^|\.)example\.(com|org)$", host), f"tweet {t['id']} links to {host}")
        check(not re.search(r"http://", t["text"]), "links are https")
        refs = t.get("referenced_tweets", [])
        types = [r["type"] for r in refs]
        check(len(types) == len(set(types)) and set(types) <= {"replied_to", "quoted", "retweeted"},
              f"tweet {t['id']} reference types")
        for r in refs:
            check(r["id"] in tid, f"tweet {t['id']} references missing {r['id']}")
            check(when[r["id"]] < when[t["id"]], f"tweet {t['id']} is older than {r['id']}")
        if "replied_to" in types:
            parent = tid[next(r["id"] for r in refs if r["type"] == "replied_to")]
            check(t.get("in_reply_to_user_id") == parent["author_id"], f"tweet {t['id']} in_reply_to_user_id")
            check(t["conversation_id"] == parent["conversation_id"], f"tweet {t['id']} conversation_id")
            check(types == ["replied_to"], "replies have one reference")
            # Who may reply (the parent's author always may).
            rs, by = parent["reply_settings"], t["author_id"]
            if by != parent["author_id"]:
                mentioned = {h.lower() for h in MENTION_RE.findall(parent["text"])}
                check(rs == "everyone"
                      or (rs == "following" and (parent["author_id"], by) in follow_pairs)
                      or (rs == "mentionedUsers" and uid[by]["username"].lower() in mentioned)
                      or (rs == "verified" and uid[by]["verified"]),
                      f"tweet {t['id']} replies to a post whose reply_settings ({rs}) leave it out")
            # A reply to a protected account comes from someone allowed to see it.
            if parent["author_id"] in protected and parent["author_id"] != t["author_id"]:
                check((t["author_id"], parent["author_id"]) in follow_pairs,
                      f"tweet {t['id']} replies to a protected account it doesn't follow")
        else:
            check("in_reply_to_user_id" not in t, f"tweet {t['id']} has in_reply_to_user_id but is no reply")
            check(t["conversation_id"] == t["id"], f"tweet {t['id']} conversation_id is its own id")
        if "retweeted" in types:
            orig = tid[refs[0]["id"]]
            check(types == ["retweeted"], "retweets have one reference")
            full = "RT @%s: %s" % (uid[orig["author_id"]]["username"], orig["text"])
            check(t["text"] == full if len(full) <= 280 else (len(t["text"]) == 280 and t["text"].endswith("…")
                                                              and full.startswith(t["text"][:-1])),
                  f"retweet {t['id']} text")
            check(t["author_id"] != orig["author_id"], "no self-retweets")
            check(orig["author_id"] not in protected, "protected posts are not retweeted")
            check(t["lang"] == orig["lang"], "retweet lang")
        if "quoted" in types:
            check(types == ["quoted"], "quotes have one reference")
            check(tid[refs[0]["id"]]["author_id"] not in protected, "protected posts are not quoted")
    # conversation roots: a reply's conversation_id names a non-reply tweet
    for t in tweets:
        root = tid[t["conversation_id"]]
        check(root["conversation_id"] == root["id"], f"tweet {t['id']} conversation root")
    counts = {k: sum(1 for t in tweets if any(r["type"] == k for r in t.get("referenced_tweets", [])))
              for k in ("replied_to", "quoted", "retweeted")}
    check(20 <= counts["quoted"] <= 30 and 20 <= counts["retweeted"] <= 30, f"~25 quotes and retweets: {counts}")
    langs = {t["lang"] for t in tweets}
    check(langs == {"en", "es", "fr", "de", "ja", "zxx"}, "languages")
    check({t["reply_settings"] for t in tweets} == set(REPLY_SETTINGS), "every reply setting is used")
    check(any(t.get("possibly_sensitive") for t in tweets), "a possibly sensitive post")
    check({t["withheld"]["copyright"] for t in tweets if "withheld" in t} == {True, False},
          "withheld posts, for copyright and not")
    withheld_users = {u["id"] for u in users if "withheld" in u}
    check(any(t["author_id"] in withheld_users for t in tweets), "a withheld account posts")
    check(any(t["text"] == "" for t in tweets), "a quote without words")
    # Long posts: a mention, a hashtag and a link on both sides of the cut.
    long_posts = [t for t in tweets if len(t["text"]) > 280]
    check(len(long_posts) >= 2, "long posts")
    for t in long_posts:
        head = display_text(t["text"])
        tail = t["text"][len(head):]
        check(t["text"].startswith(head) and len(head) <= 270, f"long post {t['id']} cut")
        for part in (head, tail):
            check(MENTION_RE.search(part) and re.search(r"(?<![A-Za-z0-9_])#\w", part) and URL_RE.search(part),
                  f"long post {t['id']}: a mention, a hashtag and a link on both sides of the cut")
        check(not any(r["type"] == "retweeted" and r["id"] == t["id"]
                      for u in tweets for r in u.get("referenced_tweets", [])), "long posts are not retweeted")
    check(per_author[byname["alice"]["id"]] in range(27, 34), f"alice has ~30 tweets ({per_author[byname['alice']['id']]})")
    check(sum(1 for n in per_author.values() if n > 25) >= 3, "several users have more than 25 tweets")
    for u in users:
        if "pinned_tweet_id" in u:
            check(u["pinned_tweet_id"] in tid and tid[u["pinned_tweet_id"]]["author_id"] == u["id"],
                  f"pinned tweet of {u['username']}")

    # follows (pending requests apart: they are no follows)
    requests = [f for f in follows if f.get("pending")]
    follows = [f for f in follows if not f.get("pending")]
    check(300 <= len(follows) <= 500, f"300-500 follows (have {len(follows)})")
    check(4 <= len(requests) <= 6, "a few pending follow requests")
    edges = set()
    for f in follows:
        s, t = f["source_user_id"], f["target_user_id"]
        check(s in uid and t in uid, "follow endpoints exist")
        check(s != t, "no self-follows")
        check((s, t) not in edges, "no duplicate follows")
        edges.add((s, t))
        created = ts(f["created_at"], "follow created_at")
        check(created > ts(uid[s]["created_at"], "") and created > ts(uid[t]["created_at"], ""),
              "follow after both accounts exist")
    a, b, x = byname["alice"]["id"], byname["bob"]["id"], byname["XDevelopers"]["id"]
    check(all((u["id"], x) in edges for u in users if u["id"] != x), "everyone follows XDevelopers")
    n_alice_followers = sum(1 for s, t in edges if t == a)
    check(n_alice_followers >= 20, "alice has 20+ followers")
    check(13 <= sum(1 for s, t in edges if s == a) <= 17, "alice follows ~15")
    check(8 <= sum(1 for s, t in edges if s == b) <= 12, "bob follows ~10")
    check(any((a, p) in edges for p in protected), "alice follows a protected account")
    check(not any((b, p) in edges for p in protected), "bob follows no protected account")
    recip = sum(1 for s, t in edges if (t, s) in edges)
    check(recip >= len(edges) // 4, "reciprocal follows are common")
    for f in requests:
        s, t = f["source_user_id"], f["target_user_id"]
        check(f["pending"] is True and t in protected, "requests go to protected accounts")
        check((s, t) not in edges, "a request is not also a follow")
        ts(f["created_at"], "request created_at")
    check(any(f["source_user_id"] == a for f in requests), "alice has a pending request")
    check(any(uid[f["target_user_id"]].get("password") for f in requests),
          "an account that can sign in has a request to answer")

    # spaces
    check(8 <= len(spaces) <= 12, "8-12 spaces")
    known_topics = set(TOPIC_IDS.values())
    check(all(s["topic_ids"] and set(s["topic_ids"]) <= known_topics for s in spaces), "spaces have catalogue topics")
    live_starts = [ts(s["started_at"], "") for s in spaces if s["state"] == "live"]
    check(all(CUTOFF - 3 * HOUR <= t < CUTOFF for t in live_starts), "live spaces started in the last 3 hours")
    sids = set()
    for s in spaces:
        check(SPACE_ID_RE.match(s["id"]) and s["id"] not in sids, f"space id {s['id']}")
        sids.add(s["id"])
        check(s["state"] in ("live", "scheduled", "ended"), "space state")
        for ref in [s["creator_id"]] + s["host_ids"] + s["speaker_ids"] + s["invited_user_ids"]:
            check(ref in uid, f"space {s['id']} refers to missing user {ref}")
        check(not set(s["host_ids"]) & set(s["speaker_ids"]), "hosts are not also listed as speakers")
        check(s["creator_id"] in s["host_ids"], "creator hosts")
        created = ts(s["created_at"], "space created_at")
        updated = ts(s["updated_at"], "space updated_at")
        check(updated >= created, "updated after created")
        if s["state"] == "ended":
            check(s["updated_at"] == s["ended_at"], "an ended space was last updated when it ended")
        elif s["state"] == "live":
            check(updated >= ts(s["started_at"], ""), "a live space was updated since it started")
        if s["state"] in ("live", "ended"):
            check(ts(s["started_at"], "started_at") >= created, "started after created")
            check(s["participant_count"] > 0, "participants")
        if s["state"] == "ended":
            check(ts(s["ended_at"], "ended_at") > ts(s["started_at"], ""), "ended after started")
        else:
            check("ended_at" not in s, "only ended spaces have ended_at")
        if s["state"] == "scheduled":
            start = ts(s["scheduled_start"], "scheduled_start", allow_future=True)
            check(ms("2026-11-01T00:00:00Z") <= start < ms("2027-01-01T00:00:00Z"), "scheduled in 2026-11/12")
            check("started_at" not in s, "scheduled spaces have not started")
        else:
            check("scheduled_start" not in s, "only scheduled spaces have scheduled_start")
    states = [s["state"] for s in spaces]
    check(3 <= states.count("live") <= 4 and 3 <= states.count("scheduled") <= 4 and 2 <= states.count("ended") <= 3,
          "space states")
    for word in ("rust", "api", "coffee"):
        check(any(word in s["title"].lower() for s in spaces), f"a space title mentions {word}")
    alice_follows = {t for s, t in edges if s == a}
    check(any(s["creator_id"] in alice_follows for s in spaces), "some spaces are hosted by accounts alice follows")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = pathlib.Path(__file__).resolve().parent.parent / "crates" / "roost" / "data" / "demo.json"
    ap.add_argument("-o", "--output", default=str(default), help="file to write, '-' for stdout (default: %(default)s)")
    args = ap.parse_args()
    text = json.dumps(build(), indent=1, ensure_ascii=False) + "\n"
    validate(json.loads(text))  # check exactly what gets written
    if args.output == "-":
        sys.stdout.write(text)
    else:
        path = pathlib.Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)


if __name__ == "__main__":
    main()
