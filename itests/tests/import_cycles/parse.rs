//! Reading the module paths a Rust source file refers to, without a Rust parser.
//!
//! [`tokens`] turns source text into identifiers, `::` and punctuation, skipping comments,
//! string, byte-string, raw-string and character literals, so that `crate::x` written in
//! a comment or a string is not a reference. [`references`] then finds every `use`
//! declaration (grouped imports `use crate::{a::B, c::{D, E}}` expanded into one path each)
//! and every path in code that starts with `crate::`, `super::` or `self::`, and resolves
//! it to an absolute path in the crate, from the module the file is (inline `mod x { ... }`
//! blocks included).

/// A token of Rust source, as much as finding paths needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An identifier or keyword.
    Ident(String),
    /// `::`.
    PathSep,
    /// Any other character that is not white space.
    Punct(char),
}

/// The tokens of `code`, each with its line number (from 1).
pub fn tokens(code: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let (mut at, mut line) = (0, 1);
    // Moves past `count` characters, counting the newlines among them.
    let skip = |at: &mut usize, line: &mut usize, count: usize| {
        for &c in &chars[*at..(*at + count).min(chars.len())] {
            *line += usize::from(c == '\n');
        }
        *at = (*at + count).min(chars.len());
    };
    while at < chars.len() {
        let c = chars[at];
        let next = chars.get(at + 1).copied();
        if c == '/' && next == Some('/') {
            let end = chars[at..].iter().position(|&c| c == '\n');
            let len = end.unwrap_or(chars.len() - at);
            skip(&mut at, &mut line, len);
        } else if c == '/' && next == Some('*') {
            let len = block_comment_len(&chars[at..]);
            skip(&mut at, &mut line, len);
        } else if c == '"' {
            let len = string_len(&chars[at..]);
            skip(&mut at, &mut line, len);
        } else if c == '\'' {
            let len = char_literal_len(&chars[at..]);
            skip(&mut at, &mut line, len);
        } else if c == ':' && next == Some(':') {
            found.push((Token::PathSep, line));
            at += 2;
        } else if c.is_alphabetic() || c == '_' {
            let len = chars[at..]
                .iter()
                .position(|&c| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(chars.len() - at);
            let word: String = chars[at..at + len].iter().collect();
            let rest = &chars[at + len..];
            let raw_string = matches!(word.as_str(), "r" | "br" | "cr")
                && rest.iter().position(|&c| c != '#').map(|i| rest[i]) == Some('"');
            if raw_string {
                let len = len + raw_string_len(rest);
                skip(&mut at, &mut line, len);
            } else if word == "r" && rest.first() == Some(&'#') {
                // A raw identifier, `r#type`: the identifier follows.
                at += 2;
            } else {
                found.push((Token::Ident(word), line));
                at += len;
            }
        } else {
            if !c.is_whitespace() {
                found.push((Token::Punct(c), line));
            }
            skip(&mut at, &mut line, 1);
        }
    }
    found
}

/// The length of the (nestable) block comment at the start of `chars`.
fn block_comment_len(chars: &[char]) -> usize {
    let (mut depth, mut at) = (0, 0);
    while at < chars.len() {
        match (chars[at], chars.get(at + 1)) {
            ('/', Some('*')) => (depth, at) = (depth + 1, at + 2),
            ('*', Some('/')) => {
                (depth, at) = (depth - 1, at + 2);
                if depth == 0 {
                    return at;
                }
            }
            _ => at += 1,
        }
    }
    chars.len()
}

/// The length of the string literal at the start of `chars`, escapes included.
fn string_len(chars: &[char]) -> usize {
    let mut at = 1;
    while at < chars.len() {
        match chars[at] {
            '\\' => at += 2,
            '"' => return at + 1,
            _ => at += 1,
        }
    }
    chars.len()
}

/// The length of the raw string `#*"..."#*` at the start of `chars` (after its `r`).
fn raw_string_len(chars: &[char]) -> usize {
    let hashes = chars.iter().take_while(|&&c| c == '#').count();
    let body = &chars[hashes + 1..];
    let closing: Vec<char> = std::iter::once('"')
        .chain(std::iter::repeat_n('#', hashes))
        .collect();
    let end = body
        .windows(closing.len())
        .position(|window| window == closing.as_slice());
    end.map_or(chars.len(), |end| hashes + 1 + end + closing.len())
}

/// The length of the character literal at the start of `chars`, or 1 for a lifetime's
/// quote (`'a`), after which the lifetime's name is read as an identifier.
fn char_literal_len(chars: &[char]) -> usize {
    match (chars.get(1), chars.get(2)) {
        (Some('\\'), _) => {
            let end = chars[2..].iter().position(|&c| c == '\'');
            end.map_or(chars.len(), |end| end + 3)
        }
        (Some(_), Some('\'')) => 3,
        _ => 1,
    }
}

/// A path the code refers to, resolved to start at the crate root, and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The segments after `crate`, e.g. `["chain", "Chain"]` for `crate::chain::Chain`.
    pub path: Vec<String>,
    /// The line of the path's first segment.
    pub line: usize,
}

/// The crate-absolute paths that `code`, the file of module `module` (segments after
/// `crate`), refers to by `crate::`, `super::` or `self::`, in `use` declarations and in
/// code. Paths from other crates and plain names are not references.
pub fn references(code: &str, module: &[String]) -> Vec<Reference> {
    let tokens = tokens(code);
    let mut found = Vec::new();
    // Inline modules around the current token: name, and brace depth inside it.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut at = 0;
    while at < tokens.len() {
        let current: Vec<String> = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(name, _)| name.clone()))
            .collect();
        match &tokens[at].0 {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, inside)| *inside == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some((Token::Ident(name), _)), Some((Token::Punct('{'), _))) =
                    (tokens.get(at + 1), tokens.get(at + 2))
                {
                    inline.push((name.clone(), depth + 1));
                    depth += 1;
                    at += 3;
                    continue;
                }
            }
            Token::Ident(word) if word == "use" => {
                let line = tokens[at].1;
                let (paths, end) = use_tree(&tokens, at + 1, Vec::new());
                for path in paths {
                    found.extend(resolve(&path, &current).map(|path| Reference { path, line }));
                }
                at = end;
                continue;
            }
            Token::Ident(word) if is_relative_root(word) => {
                if matches!(tokens.get(at + 1), Some((Token::PathSep, _))) {
                    let line = tokens[at].1;
                    let mut path = vec![word.clone()];
                    let mut next = at + 1;
                    while let (Some((Token::PathSep, _)), Some((Token::Ident(segment), _))) =
                        (tokens.get(next), tokens.get(next + 1))
                    {
                        path.push(segment.clone());
                        next += 2;
                    }
                    found.extend(resolve(&path, &current).map(|path| Reference { path, line }));
                    at = next;
                    continue;
                }
            }
            _ => {}
        }
        at += 1;
    }
    found
}

fn is_relative_root(word: &str) -> bool {
    matches!(word, "crate" | "super" | "self")
}

/// The paths of the use tree starting at `tokens[at]`, each after `prefix`, and the index
/// after the tree (past its `;` at the top level).
fn use_tree(
    tokens: &[(Token, usize)],
    mut at: usize,
    mut prefix: Vec<String>,
) -> (Vec<Vec<String>>, usize) {
    let mut paths = Vec::new();
    while let Some((token, _)) = tokens.get(at) {
        match token {
            Token::Ident(word) if word == "as" => at += 2,
            Token::Ident(word) => {
                prefix.push(word.clone());
                at += 1;
            }
            Token::PathSep | Token::Punct('*') => at += 1,
            Token::Punct('{') => {
                at += 1;
                loop {
                    let (inner, end) = use_tree(tokens, at, prefix.clone());
                    paths.extend(inner);
                    at = end;
                    match tokens.get(at) {
                        Some((Token::Punct(','), _)) => at += 1,
                        Some((Token::Punct('}'), _)) => {
                            at += 1;
                            break;
                        }
                        _ => return (paths, at),
                    }
                }
                // After a group only the end of the tree can follow.
                return (paths, skip_semicolon(tokens, at));
            }
            Token::Punct(',' | '}') => break,
            Token::Punct(';') => return (with(paths, prefix), at + 1),
            Token::Punct(_) => at += 1,
        }
    }
    (with(paths, prefix), at)
}

fn skip_semicolon(tokens: &[(Token, usize)], at: usize) -> usize {
    match tokens.get(at) {
        Some((Token::Punct(';'), _)) => at + 1,
        _ => at,
    }
}

fn with(mut paths: Vec<Vec<String>>, path: Vec<String>) -> Vec<Vec<String>> {
    if !path.is_empty() {
        paths.push(path);
    }
    paths
}

/// `path` from the crate root, if it starts with `crate`, `super` or `self` (seen from
/// module `current`); a trailing `self` (`use crate::a::{self}`) names the module itself.
fn resolve(path: &[String], current: &[String]) -> Option<Vec<String>> {
    let mut base: Vec<String> = match path.first()?.as_str() {
        "crate" => Vec::new(),
        "self" | "super" => current.to_vec(),
        _ => return None,
    };
    let mut rest = &path[1..];
    if path[0] == "super" {
        base.pop()?;
    }
    while rest.first().is_some_and(|s| s == "super") {
        base.pop()?;
        rest = &rest[1..];
    }
    base.extend(rest.iter().filter(|s| *s != "self").cloned());
    Some(base)
}
