//! Checklist K6: parsing request input takes time linear in its size; nothing parses it with a
//! backtracking regular expression.
//!
//! Every parser that sees request input is fed pathological inputs of about 100 KB (runs of
//! spaces in a scope, `%`-heavy query strings and bodies, a parameter repeated thousands of
//! times, thousands of list items) and the same input at a sixteenth of the size. A linear
//! parser takes about 16 times as long for the big one; a quadratic one 256 times. The bound is
//! generous (64 times, on the fastest of several runs, so a loaded machine does not fail it),
//! and a parser that answers the big input within 50 µs passes regardless: it refused it
//! early, which is linear enough.

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, Uri};
use base64::Engine;
use roost_domain::fields::{Selection, TweetField};
use roost_domain::{
    BasicCredentials, ClientId, CodeChallenge, CodeChallengeMethod, CodeVerifier, PkceMode,
    RedirectUri, RequestedId, ScopeSet, Username,
};

use crate::api::query::Params;
use crate::oauth::params::{OAuthParams, parse_form};

const BIG: usize = 100 * 1024;
/// `http::Uri` holds at most 64 KiB (roost refuses targets over 8 KiB with 414 anyway).
const BIG_URI: usize = 60 * 1024;
const RUNS: usize = 5;

/// The fastest of `RUNS` runs of `parse` on `input`.
fn fastest(input: &str, parse: &dyn Fn(&str)) -> Duration {
    (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            parse(black_box(input));
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// `unit` repeated to about `len` bytes, between `head` and `tail`.
fn build(head: &str, unit: &str, tail: &str, len: usize) -> String {
    let mut s = String::with_capacity(len + head.len() + tail.len());
    s.push_str(head);
    while s.len() < len {
        s.push_str(unit);
    }
    s.push_str(tail);
    s
}

struct Case {
    what: &'static str,
    size: usize,
    head: &'static str,
    unit: &'static str,
    tail: &'static str,
    parse: Box<dyn Fn(&str)>,
}

fn case(
    what: &'static str,
    (head, unit, tail): (&'static str, &'static str, &'static str),
    parse: impl Fn(&str) + 'static,
) -> Case {
    Case {
        what,
        size: BIG,
        head,
        unit,
        tail,
        parse: Box::new(parse),
    }
}

fn uri(query: &str) -> Uri {
    format!("/2/tweets?{query}")
        .parse()
        .expect("a request target")
}

/// A case whose input travels in the request target.
fn in_uri(mut c: Case) -> Case {
    c.size = BIG_URI;
    c
}

fn cases() -> Vec<Case> {
    vec![
        case("scope of spaces", ("", " ", "tweet.read"), |s| {
            let _ = black_box(ScopeSet::parse(s));
        }),
        case("scope of repeated names", ("", "tweet.read ", ""), |s| {
            let _ = black_box(ScopeSet::parse(s));
        }),
        case("form value of %-escapes", ("scope=", "%20", ""), |s| {
            let _ = black_box(parse_form(s.as_bytes()));
        }),
        case("form of bare %", ("state=", "%", ""), |s| {
            let _ = black_box(parse_form(s.as_bytes()));
        }),
        case("form of empty pairs", ("", "&", "a=1"), |s| {
            let _ = black_box(parse_form(s.as_bytes()));
        }),
        case(
            "form of one parameter repeated",
            ("", "scope=a&", ""),
            |s| {
                let _ = black_box(parse_form(s.as_bytes()));
            },
        ),
        case(
            "token request query, one value repeated",
            ("", "client_id=x&", ""),
            |s| {
                let _ = black_box(OAuthParams::parse(Some(s), None, b"", None));
            },
        ),
        case(
            "token request form body with %-escapes",
            ("grant_type=refresh_token&refresh_token=", "%41", ""),
            |s| {
                let _ = black_box(OAuthParams::parse(
                    None,
                    Some("application/x-www-form-urlencoded"),
                    s.as_bytes(),
                    None,
                ));
            },
        ),
        case(
            "token request JSON body with a repeated member",
            ("{", "\"scope\":\"a\",", "\"x\":\"y\"}"),
            |s| {
                let _ = black_box(OAuthParams::parse(
                    None,
                    Some("application/json"),
                    s.as_bytes(),
                    None,
                ));
            },
        ),
        case(
            "token request JSON body with a long escaped string",
            ("{\"scope\":\"", "\\u0020", "\"}"),
            |s| {
                let _ = black_box(OAuthParams::parse(
                    None,
                    Some("application/json"),
                    s.as_bytes(),
                    None,
                ));
            },
        ),
        case("Basic credentials of %-escapes", ("a:", "%41", ""), |s| {
            let header = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            );
            let _ = black_box(BasicCredentials::parse(&header));
        }),
        case(
            "redirect URI of path segments",
            ("https://app.example/", "a/", ""),
            |s| {
                let _ = black_box(RedirectUri::parse(s));
            },
        ),
        case(
            "redirect URI of %-escapes",
            ("https://app.example/", "%2F", ""),
            |s| {
                let _ = black_box(RedirectUri::parse(s));
            },
        ),
        case("PKCE verifier", ("", "a", ""), |s| {
            let _ = black_box(CodeVerifier::parse(s, PkceMode::X));
        }),
        case("PKCE challenge", ("", "A", ""), |s| {
            let _ = black_box(CodeChallenge::parse(
                CodeChallengeMethod::S256,
                s,
                PkceMode::X,
            ));
        }),
        case("PKCE method", ("", "s", "256"), |s| {
            let _ = black_box(CodeChallengeMethod::parse(Some(s), PkceMode::X));
        }),
        case("client_id", ("", "Q", ""), |s| {
            let _ = black_box(ClientId::parse(s));
        }),
        case("username", ("", "a", ""), |s| {
            let _ = black_box(Username::parse(s));
        }),
        case("id", ("", "9", ""), |s| {
            let _ = black_box(RequestedId::parse(s));
        }),
        in_uri(case(
            "API query with one parameter repeated",
            ("", "ids=1&", ""),
            |s| {
                let mut p = Params::new(&uri(s), &["ids", "tweet.fields"]);
                let _ = black_box(p.list("ids", 100, |v| RequestedId::parse(v).ok()));
                let _ = black_box(p.finish());
            },
        )),
        in_uri(case("API id list", ("ids=", "1%2C", "1"), |s| {
            let mut p = Params::new(&uri(s), &["ids"]);
            let _ = black_box(p.list("ids", 100, |v| RequestedId::parse(v).ok()));
            let _ = black_box(p.finish());
        })),
        in_uri(case(
            "API field list of unknown names",
            ("tweet.fields=", "x,", "id"),
            |s| {
                let mut p = Params::new(&uri(s), &["tweet.fields"]);
                let _ = black_box(p.select::<TweetField>("tweet.fields"));
                let _ = black_box(p.finish());
            },
        )),
        case(
            "field selection of known names",
            ("", "author_id,", "id"),
            |s| {
                let _ = black_box(Selection::<TweetField>::parse("tweet.fields", s));
            },
        ),
        case("bearer header of %", ("Bearer ", "%", ""), |s| {
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(s) {
                headers.insert(axum::http::header::AUTHORIZATION, v);
            }
            let _ = black_box(crate::api::principal::bearer(&headers));
        }),
        case(
            "cookie header of empty pairs",
            ("", "; ", "roost_browser=x"),
            |s| {
                let mut headers = HeaderMap::new();
                if let Ok(v) = HeaderValue::from_str(s) {
                    headers.insert(axum::http::header::COOKIE, v);
                }
                let _ = black_box(crate::web::read_cookie(&headers, "roost_browser"));
            },
        ),
        in_uri(case(
            "authorize query with one value repeated",
            ("", "scope=tweet.read&", ""),
            |s| {
                let _ = black_box(crate::web::authorize::parse_query(&uri(s)));
            },
        )),
    ]
}

#[test]
fn sec_k06_parsers_take_linear_time_on_pathological_input() {
    let mut slow = Vec::new();
    for c in cases() {
        let small = build(c.head, c.unit, c.tail, c.size / 16);
        let big = build(c.head, c.unit, c.tail, c.size);
        // Warm up caches and allocators on the small one first.
        (c.parse)(&small);
        let t_small = fastest(&small, &*c.parse);
        let t_big = fastest(&big, &*c.parse);
        let ratio = t_big.as_secs_f64() / t_small.as_secs_f64().max(1e-9);
        let early = t_big < Duration::from_micros(50);
        if t_big > Duration::from_millis(250) || (!early && ratio > 64.0) {
            slow.push(format!(
                "{}: {:?} for {} bytes, {:?} for {} ({ratio:.0}x)",
                c.what,
                t_big,
                big.len(),
                t_small,
                small.len()
            ));
        }
    }
    assert!(slow.is_empty(), "not linear:\n{}", slow.join("\n"));
}

/// No backtracking regex engine parses anything in roost: none is a dependency of a roost
/// crate (the `regex` crate itself is linear-time, but roost uses none), and no source file
/// names one.
#[test]
fn sec_k06_no_backtracking_regex_engine_is_a_dependency() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let backtracking = [
        "fancy-regex",
        "fancy_regex",
        "pcre",
        "pcre2",
        "onig",
        "regress",
    ];
    for krate in ["roost", "roost-domain", "roost-store"] {
        let manifest = std::fs::read_to_string(crates.join(krate).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{krate}: {e}"));
        // The normal dependencies: everything before [dev-dependencies].
        let normal = manifest
            .split("[dev-dependencies]")
            .next()
            .unwrap_or_default();
        for name in backtracking.iter().chain(["regex"].iter()) {
            assert!(
                !normal
                    .lines()
                    .any(|l| l.trim_start().starts_with(&format!("{name} "))
                        || l.trim_start().starts_with(&format!("{name}."))
                        || l.trim_start().starts_with(&format!("{name}="))),
                "{krate} depends on {name}"
            );
        }
        let mut stack = vec![crates.join(krate).join("src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
                let path = entry.map(|e| e.path()).unwrap_or_default();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("linear_time.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    for engine in ["regex::", "fancy_regex::", "Regex::new", "pcre2::"] {
                        assert!(!text.contains(engine), "{path:?} uses {engine}");
                    }
                }
            }
        }
    }
}
