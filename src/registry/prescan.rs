//! A linear pre-scan of the raw text for what roxmltree handles slowly: an element with very many
//! attributes (roxmltree checks each new attribute against all earlier ones on the element, so
//! 100,000 attributes take minutes). No registry element needs more than a handful.

/// Attributes one element may carry.
pub const MAX_ATTRIBUTES: usize = 64;
/// Attributes the whole document may carry (10,000 servers need about 10,000).
pub const MAX_TOTAL_ATTRIBUTES: usize = 50_000;

/// The attributes of `text` counted on top of `before` (those of the files read before it: the
/// registry's included files share its budget); `Err` with the byte offset of the first start
/// tag with more than [`MAX_ATTRIBUTES`] attributes, or of the one that takes the count past
/// [`MAX_TOTAL_ATTRIBUTES`].
pub fn attribute_flood(text: &str, before: usize) -> Result<usize, usize> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut total = before;
    while let Some(found) = bytes[at..].iter().position(|&b| b == b'<') {
        let start = at + found;
        let rest = &bytes[start..];
        at = if rest.starts_with(b"<!--") {
            skip_past(bytes, start, b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            skip_past(bytes, start, b"]]>")
        } else if rest.starts_with(b"<?") {
            skip_past(bytes, start, b"?>")
        } else {
            let (end, attributes) = scan_tag(bytes, start + 1);
            total += attributes;
            if attributes > MAX_ATTRIBUTES || total > MAX_TOTAL_ATTRIBUTES {
                return Err(start);
            }
            end
        };
    }
    Ok(total)
}

/// The offset just past `marker` after `from` (or the end of the text).
fn skip_past(bytes: &[u8], from: usize, marker: &[u8]) -> usize {
    bytes[from..]
        .windows(marker.len())
        .position(|window| window == marker)
        .map_or(bytes.len(), |found| from + found + marker.len())
}

/// Counts the `=` outside quotes up to the tag's `>`; returns where the tag ends and the count.
fn scan_tag(bytes: &[u8], mut at: usize) -> (usize, usize) {
    let mut attributes = 0;
    let mut quote = None;
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        match (quote, byte) {
            (None, b'>') => break,
            (None, b'"' | b'\'') => quote = Some(byte),
            (None, b'=') => attributes += 1,
            (Some(open), _) if byte == open => quote = None,
            _ => {}
        }
    }
    (at, attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_documents_pass() {
        let text = r#"<?xml version="1.0"?><!-- a=b c=d <x> --><supervisor a="x>y" b='=='><servers/><![CDATA[<q a=1>]]></supervisor>"#;
        assert_eq!(attribute_flood(text, 0).err(), None);
    }

    #[test]
    fn a_flooded_element_is_found_where_it_starts() {
        let attributes: String = (0..=MAX_ATTRIBUTES)
            .map(|i| format!(" a{i}=\"\""))
            .collect();
        let text = format!("<supervisor>\n  <server{attributes}/></supervisor>");
        assert_eq!(attribute_flood(&text, 0).err(), Some(15));
        let fine: String = (0..MAX_ATTRIBUTES).map(|i| format!(" a{i}=\"\"")).collect();
        assert_eq!(attribute_flood(&format!("<s{fine}/>"), 0).err(), None);
    }

    #[test]
    fn too_many_attributes_in_all_are_found_too() {
        let text = "<s a='' b=''/>".repeat(MAX_TOTAL_ATTRIBUTES / 2 + 1);
        assert_eq!(
            attribute_flood(&text, 0).err(),
            Some(14 * (MAX_TOTAL_ATTRIBUTES / 2))
        );
    }
}
