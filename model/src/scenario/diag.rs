//! Where a scenario error is in its source: the TOML span of a field (via `toml_edit`'s spans)
//! drawn rustc-style with `annotate-snippets`, and serde's type errors said in the user's words.

use annotate_snippets::{Level, Renderer, Snippet};
use std::ops::Range;
use toml_edit::{ImDocument, Item, Table, TableLike, Value};

/// One step of a field path: `network.faults[0].from` is `network`, `faults`, `[0]`, `from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Splits a dotted field path as `serde_path_to_error` and `validate` write them.
pub(crate) fn parse_path(field: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in field.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Seg::Key(name.to_string()));
        }
        while let Some(end) = rest.find(']') {
            match rest[1..end].parse() {
                Ok(i) => out.push(Seg::Index(i)),
                Err(_) => return out,
            }
            rest = &rest[end + 1..];
        }
    }
    out
}

/// What a span points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// The field's value.
    Value,
    /// The field's key (an unknown field: the key is what is wrong).
    Key,
    /// The field is not in the file; this is the nearest section that is.
    Section,
}

/// A place in a parsed document: items, tables of an array of tables, and inline values.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a Table),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn table(self) -> Option<&'a dyn TableLike> {
        match self {
            Node::Item(i) => i.as_table_like(),
            Node::Table(t) => Some(t),
            Node::Value(v) => v.as_inline_table().map(|t| t as &dyn TableLike),
        }
    }

    fn index(self, n: usize) -> Option<Node<'a>> {
        match self {
            Node::Item(Item::ArrayOfTables(a)) => a.get(n).map(Node::Table),
            Node::Item(Item::Value(Value::Array(a))) | Node::Value(Value::Array(a)) => {
                a.get(n).map(Node::Value)
            }
            _ => None,
        }
    }

    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Item(Item::Value(v)) | Node::Value(v) => v.span(),
            Node::Item(Item::Table(t)) | Node::Table(t) => t.span(),
            Node::Item(Item::ArrayOfTables(a)) => a.span(),
            Node::Item(Item::None) => None,
        }
    }
}

/// The span of `path` in the TOML `text`: its value (or key), else the nearest enclosing
/// section that is written in the file.
pub(crate) fn locate(text: &str, path: &[Seg], want_key: bool) -> Option<(Range<usize>, Found)> {
    let doc = ImDocument::parse(text).ok()?;
    let mut node = Node::Item(doc.as_item());
    let mut best: Option<Range<usize>> = None;
    for (i, seg) in path.iter().enumerate() {
        let (key_span, next) = match seg {
            Seg::Key(k) => match node.table().and_then(|t| t.get_key_value(k)) {
                Some((key, it)) => (key.span(), Node::Item(it)),
                None => return best.map(|b| (first_line(text, b), Found::Section)),
            },
            Seg::Index(n) => match node.index(*n) {
                Some(x) => (None, x),
                None => return best.map(|b| (first_line(text, b), Found::Section)),
            },
        };
        if i + 1 == path.len() {
            if let (true, Some(k)) = (want_key, key_span.clone()) {
                return Some((k, Found::Key));
            }
            return match next.span() {
                Some(s) => Some((s, Found::Value)),
                None => key_span
                    .map(|k| (k, Found::Key))
                    .or(best.map(|b| (first_line(text, b), Found::Section))),
            };
        }
        if let Some(s) = next.span().or(key_span) {
            best = Some(s);
        }
        node = next;
    }
    None
}

/// A section's span cut to its first line (its `[header]`), so the caret marks one line.
fn first_line(text: &str, span: Range<usize>) -> Range<usize> {
    let start = span.start.min(text.len());
    let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
    start..end.min(span.end.max(start))
}

/// Draws `span` of `source` (named `origin`) with a caret and `label`, rustc-style, without a
/// title line: the caller's message is the title.
pub(crate) fn render(origin: &str, source: &str, span: Range<usize>, label: &str) -> String {
    let span = clamp(source, span);
    let msg = Level::Error.title("").snippet(
        Snippet::source(source)
            .origin(origin)
            .fold(true)
            .annotation(Level::Error.span(span).label(label)),
    );
    let out = Renderer::plain().render(msg).to_string();
    // Drop annotate-snippets' own `error: ` title line.
    out.split_once('\n')
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_default()
}

/// A span inside `source` on char boundaries, at least one character wide when it can be.
fn clamp(source: &str, span: Range<usize>) -> Range<usize> {
    let mut s = span.start.min(source.len());
    let mut e = span.end.clamp(s, source.len());
    while !source.is_char_boundary(s) {
        s -= 1;
    }
    while !source.is_char_boundary(e) {
        e += 1;
    }
    if s == e {
        if let Some(c) = source[s..].chars().next() {
            e = s + c.len_utf8();
        }
    }
    s..e
}

/// What a field holds, in words, for the fields people most often get wrong.
fn field_words(field: &str) -> Option<&'static str> {
    Some(match field {
        "server.gomaxprocs" => "a whole number of Ps between 1 and 1024",
        "server.gogc" => "a GOGC percentage (a whole number such as 100) or \"off\"",
        "server.gomemlimit" => "a GOMEMLIMIT size such as \"512MiB\", or \"off\"",
        "rooms.count" => "a whole number of rooms between 1 and 1000000",
        "rooms.hosts_per_room" => "a whole number of hosts per room between 2 and 64",
        "rooms.listeners" => "a whole number of listeners per room between 0 and 100000",
        "audio.fps" => "a whole number of audio frames per second between 1 and 1000",
        "video.fps" => "a whole number of video frames per second between 1 and 240",
        "run.seed" => "a whole number from 0 to 9223372036854775807 (TOML's largest integer)",
        "run.max_events" => "a whole number of events, at least 1",
        "receiver.window" => "a whole number of packets between 1 and 100000",
        "forwarding.channel_capacity" => "a whole number of slots between 0 and 1048576",
        "forwarding.batch" => "a whole number of datagrams per read between 1 and 1024",
        "forwarding.cpu_jitter" => "a fraction in [0, 1), such as 0.2",
        "server.stalls.cpu_quota" => "a number of CPUs per period, such as 1.5 (0: no limit)",
        _ => return None,
    })
}

/// What a Rust/serde type name means to someone writing TOML.
fn type_words(expected: &str) -> String {
    let e = expected.trim();
    let whole = |max: &str| format!("a whole number from 0 to {max}");
    match e {
        "u8" => whole("255"),
        "u16" => whole("65535"),
        "u32" => whole("4294967295"),
        // TOML integers are signed 64-bit: larger ones arrive as text or not at all.
        "u64" | "usize" => whole("9223372036854775807"),
        "i32" | "i64" => "a whole number".into(),
        "f32" | "f64" => "a number, such as 0.5".into(),
        "a boolean" => "true or false".into(),
        "a string" => "text in quotes".into(),
        "a sequence" => "a list, such as [1, 2]".into(),
        "a map" => "a table: a [section] or { key = value }".into(),
        _ if e.starts_with("struct ") => "a table: a [section] or { key = value }".into(),
        _ if e.starts_with("internally tagged enum") => "a table with a `model` field".into(),
        _ => e.to_string(),
    }
}

/// What serde found, in words: `string "four"` is `"four" (text)`.
fn found_words(found: &str) -> String {
    let f = found.trim();
    let bare = |x: &str| x.trim().trim_matches('`').to_string();
    if let Some(x) = f.strip_prefix("string ") {
        format!("{x} (text)")
    } else if let Some(x) = f
        .strip_prefix("integer ")
        .or_else(|| f.strip_prefix("floating point "))
        .or_else(|| f.strip_prefix("boolean "))
    {
        bare(x)
    } else if f == "map" {
        "a table".into()
    } else if f == "sequence" {
        "a list".into()
    } else {
        f.to_string()
    }
}

/// Rewrites serde's `invalid type: X, expected Y` (and `invalid value`, and the untagged
/// enums behind durations and sizes) as what the field should hold; returns the problem and
/// a hint, or `None` to keep serde's words.
pub(crate) fn humanise(field: &str, serde_msg: &str) -> Option<(String, Option<String>)> {
    let leaf = field.rsplit('.').next().unwrap_or(field);
    if let Some(kind) = serde_msg.strip_prefix("data did not match any variant of untagged enum ") {
        let what = match kind.trim() {
            "DurationInput" => "a duration with a unit, such as \"20ms\" or \"1.5s\"",
            "SizeInput" => "a size in bytes, such as 1460 or \"64KiB\"",
            _ => field_words(field)?,
        };
        return Some((
            format!("expected {what}"),
            Some(format!("write {leaf} = {}", example(what))),
        ));
    }
    let rest = serde_msg
        .strip_prefix("invalid type: ")
        .or_else(|| serde_msg.strip_prefix("invalid value: "))?;
    let (found, expected) = rest.rsplit_once(", expected ")?;
    let what = field_words(field)
        .map(str::to_string)
        .unwrap_or_else(|| type_words(expected));
    let found = found_words(found);
    let digits = found
        .strip_suffix(" (text)")
        .map(|t| t.trim_matches('"').trim_start_matches('-'))
        .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()));
    let hint = if digits {
        Some("this whole number is too large for TOML's 64-bit integers".to_string())
    } else if found.ends_with("(text)") && !what.contains("text") && !what.contains('"') {
        Some("write the value without quotes".to_string())
    } else if what.starts_with("a whole number") && found.contains('.') {
        Some("drop the fraction".to_string())
    } else {
        None
    };
    Some((format!("expected {what}, found {found}"), hint))
}

/// The first quoted example in `what`, quotes included (`"20ms"`).
fn example(what: &str) -> &str {
    let mut quotes = what.match_indices('"').map(|(i, _)| i);
    match (quotes.next(), quotes.next()) {
        (Some(s), Some(e)) => &what[s..=e],
        _ => "…",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"x\"\n[server]\ngomaxprocs = 0\n\n[[network.faults]]\nkind = \"clog\"\nfrom = \"2s\"\n[[network.faults]]\nfrom = \"9s\"\n";

    #[test]
    fn paths_split_on_dots_and_indices() {
        assert_eq!(
            parse_path("network.faults[1].from"),
            vec![
                Seg::Key("network".into()),
                Seg::Key("faults".into()),
                Seg::Index(1),
                Seg::Key("from".into())
            ]
        );
    }

    #[test]
    fn a_value_is_found_where_it_is_written() {
        let (s, f) = locate(TEXT, &parse_path("server.gomaxprocs"), false).unwrap();
        assert_eq!((&TEXT[s], f), ("0", Found::Value));
        let (s, f) = locate(TEXT, &parse_path("network.faults[1].from"), false).unwrap();
        assert_eq!((&TEXT[s], f), ("\"9s\"", Found::Value));
        let (s, f) = locate(TEXT, &parse_path("server.gomaxprocz"), true).unwrap();
        assert_eq!(f, Found::Section, "{:?}", &TEXT[s]);
    }

    #[test]
    fn the_snippet_has_the_line_and_a_caret() {
        let (s, _) = locate(TEXT, &parse_path("server.gomaxprocs"), false).unwrap();
        let r = render("bad.toml", TEXT, s, "out of range");
        assert!(r.contains("--> bad.toml:3:14"), "{r}");
        assert!(r.contains("3 | gomaxprocs = 0"), "{r}");
        assert!(r.contains("^ out of range"), "{r}");
    }

    #[test]
    fn type_errors_are_said_in_words() {
        let (p, h) = humanise(
            "server.gomaxprocs",
            "invalid type: string \"four\", expected u32",
        )
        .unwrap();
        assert_eq!(
            p,
            "expected a whole number of Ps between 1 and 1024, found \"four\" (text)"
        );
        assert_eq!(h.as_deref(), Some("write the value without quotes"));
        let (p, _) = humanise(
            "video.enabled",
            "invalid type: integer `1`, expected a boolean",
        )
        .unwrap();
        assert_eq!(p, "expected true or false, found 1");
        let (p, _) = humanise(
            "run.duration",
            "data did not match any variant of untagged enum DurationInput",
        )
        .unwrap();
        assert!(p.contains("a duration with a unit"), "{p}");
    }
}
