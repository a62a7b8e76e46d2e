//! Line numbers for key paths.
//!
//! serde sees values, not positions, so a [`Locator`] walks the YAML events of the document
//! once (with `saphyr-parser`, which reports a span for each event) and remembers the line of
//! every key path: `ticketing.backend` is the line of the `backend` key, `plugins[1]` the line
//! of the second item of `plugins`, `plugins[1].interface_version` the line of that key. Key
//! paths are written as in messages: dots between map keys, `[i]` for sequence indexes, no
//! leading dot; the document itself is the empty path.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

/// A YAML syntax error, or a key repeated in one mapping, found while walking the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// The 1-based line.
    pub line: usize,
    /// The key path of a repeated key; empty for a syntax error.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// Key path -> line of one YAML document.
#[derive(Debug, Default)]
pub(crate) struct Locator {
    lines: HashMap<String, usize>,
}

/// A container being walked.
enum Frame {
    /// A mapping at `path`: `key` is the last key read, `in_value` whether its value comes
    /// next (rather than the next key).
    Map {
        path: String,
        key: String,
        in_value: bool,
        /// The keys read so far and their lines: a repeated key is an error (serde_norway
        /// refuses it too, but without the line of either).
        seen: HashMap<String, usize>,
    },
    /// A sequence at `path`; `index` is the index of the next item.
    Seq { path: String, index: usize },
    /// A mapping or sequence used as a mapping key: nothing inside it has a key path.
    Ignored,
}

impl Locator {
    /// Walks the first document of `text`.
    pub(crate) fn new(text: &str) -> Result<Locator, SyntaxError> {
        let mut locator = Locator::default();
        let mut stack: Vec<Frame> = Vec::new();
        for event in Parser::new_from_str(text) {
            let (event, span) = event.map_err(|e| SyntaxError {
                line: e.marker().line(),
                key: String::new(),
                message: format!("invalid YAML: {}", e.info()),
            })?;
            let line = span.start.line();
            match event {
                Event::Scalar(value, ..) => {
                    locator.node(&mut stack, line, Some(&value))?;
                    complete(&mut stack);
                }
                Event::Alias(_) => {
                    locator.node(&mut stack, line, None)?;
                    complete(&mut stack);
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let path = locator.node(&mut stack, line, None)?;
                    stack.push(match (path, event) {
                        (None, _) => Frame::Ignored,
                        (Some(path), Event::MappingStart(..)) => Frame::Map {
                            path,
                            key: String::new(),
                            in_value: false,
                            seen: HashMap::new(),
                        },
                        (Some(path), _) => Frame::Seq { path, index: 0 },
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    complete(&mut stack);
                }
                // Later documents are not read (the deserializer refuses them anyway).
                Event::DocumentEnd => break,
                Event::Nothing
                | Event::StreamStart
                | Event::StreamEnd
                | Event::DocumentStart(_) => {}
            }
        }
        Ok(locator)
    }

    /// Records a node starting at `line` (a scalar's text in `scalar`) and returns its key
    /// path, or `None` when the node is (inside) a mapping key rather than a value.
    fn node(
        &mut self,
        stack: &mut [Frame],
        line: usize,
        scalar: Option<&str>,
    ) -> Result<Option<String>, SyntaxError> {
        let path = match stack.last_mut() {
            None => String::new(),
            Some(Frame::Ignored) => return Ok(None),
            Some(Frame::Map {
                path,
                key,
                in_value: false,
                seen,
            }) => {
                // A key: the line of a value's path is the line of its key.
                scalar.unwrap_or("?").clone_into(key);
                let key_path = join_key(path, key);
                if let Some(first) = scalar.and_then(|k| seen.insert(k.to_owned(), line)) {
                    return Err(SyntaxError {
                        line,
                        key: key_path,
                        message: format!("key {key:?} appears twice (first on line {first})"),
                    });
                }
                self.lines.entry(key_path).or_insert(line);
                return Ok(None);
            }
            Some(Frame::Map {
                path,
                key,
                in_value: true,
                ..
            }) => join_key(path, key),
            Some(Frame::Seq { path, index }) => format!("{path}[{index}]"),
        };
        self.lines.entry(path.clone()).or_insert(line);
        Ok(Some(path))
    }

    /// The line of `path` itself.
    pub(crate) fn exact(&self, path: &str) -> Option<usize> {
        self.lines.get(path).copied()
    }

    /// The line of `path`, or of its nearest ancestor the document has (a value that is not
    /// there, or a path inside a value the locator does not see into).
    pub(crate) fn line(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            if path.is_empty() {
                return None;
            }
            path = parent(path);
        }
    }
}

/// After a complete node: a mapping alternates between keys and values, a sequence moves on
/// to its next item.
fn complete(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { in_value, .. }) => *in_value = !*in_value,
        Some(Frame::Seq { index, .. }) => *index += 1,
        Some(Frame::Ignored) | None => {}
    }
}

/// `parent.key`, or `key` at the top.
pub(crate) fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// The parent of a key path: `a.b[2]` -> `a.b`, `a.b` -> `a`, `a` -> ``.
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_keys_and_items() {
        let text = "\
a: 1
plugins:
  - name: x
    type: t
  - name: y
    limits: { fuel: 3 }
nested:
  list: [1, 2]
";
        let l = Locator::new(text).unwrap();
        assert_eq!(l.exact(""), Some(1));
        assert_eq!(l.exact("a"), Some(1));
        assert_eq!(l.exact("plugins"), Some(2));
        assert_eq!(l.exact("plugins[0]"), Some(3));
        assert_eq!(l.exact("plugins[0].name"), Some(3));
        assert_eq!(l.exact("plugins[0].type"), Some(4));
        assert_eq!(l.exact("plugins[1]"), Some(5));
        assert_eq!(l.exact("plugins[1].limits"), Some(6));
        assert_eq!(l.exact("plugins[1].limits.fuel"), Some(6));
        assert_eq!(l.exact("nested.list[1]"), Some(8));
        assert_eq!(l.exact("nested.other"), None);
        assert_eq!(l.line("nested.other"), Some(7));
        assert_eq!(l.line("plugins[1].limits.memory_mb"), Some(6));
    }

    #[test]
    fn complex_keys_do_not_confuse_the_walk() {
        let text = "? [a, b]\n: 1\nc: 2\n";
        let l = Locator::new(text).unwrap();
        assert_eq!(l.exact("c"), Some(3));
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let e = Locator::new("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
    }

    #[test]
    fn repeated_keys_are_errors() {
        let e = Locator::new("a: 1\nb:\n  c: 1\n  c: 2\n").unwrap_err();
        assert_eq!(
            e,
            SyntaxError {
                line: 4,
                key: "b.c".into(),
                message: "key \"c\" appears twice (first on line 3)".into(),
            }
        );
    }

    #[test]
    fn parents() {
        assert_eq!(parent("a.b[2]"), "a.b");
        assert_eq!(parent("a.b"), "a");
        assert_eq!(parent("a"), "");
    }
}
