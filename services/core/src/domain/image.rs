//! Docker image references, checked before they reach the engine.
//!
//! A small hand-written check of Docker's reference grammar
//! (`[host[:port]/]path[:tag][@algo:hex]`): pulling in a regex engine for one pattern is not
//! worth its build time, and the grammar is stable.

/// Checks a reference such as `eval:1.0`, `registry:5000/team/model@sha256:…`.
pub fn validate_image_reference(reference: &str) -> Result<(), String> {
    if reference.is_empty() {
        return Err("is empty".into());
    }
    if reference.len() > 255 {
        return Err(format!("is {} characters long; Docker allows 255", reference.len()));
    }
    let (name_tag, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    if let Some(d) = digest {
        let (algo, hex) = d.split_once(':').ok_or_else(|| format!("digest '{d}' lacks 'algorithm:'"))?;
        if algo != "sha256" || hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return Err(format!("digest '{d}' is not sha256 followed by 64 lowercase hex digits"));
        }
    }
    // The tag is after the last ':' that follows the last '/', so a registry port is not a tag.
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (&name_tag[..last_slash + i], Some(&name_tag[last_slash + i + 1..])),
        None => (name_tag, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            return Err(format!("tag '{tag}' may only hold letters, digits, '_', '.' and '-' (at most 128)"));
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    // A first part with '.' or ':' or equal to "localhost" is a registry host.
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let host = parts.remove(0);
        let (h, port) = host.split_once(':').map_or((host, None), |(h, p)| (h, Some(p)));
        let edges_ok =
            h.starts_with(|c: char| c.is_ascii_alphanumeric()) && h.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !edges_ok || h.contains("..") || !h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')) {
            return Err(format!("registry host '{host}' is not a host name"));
        }
        if let Some(p) = port
            && p.parse::<u16>().is_err()
        {
            return Err(format!("registry port '{p}' is not a port number"));
        }
    }
    for part in parts {
        if !valid_path_component(part) {
            return Err(format!(
                "'{part}' is not a valid name component: use lowercase letters and digits, separated by '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

fn valid_path_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    if !part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')) {
        return false;
    }
    // Separators: '.', '_', '__' or one or more '-'; never two different ones in a row.
    !part.contains("..") && !part.contains("___") && !part.contains("._") && !part.contains("_.")
}

#[cfg(test)]
mod tests {
    use super::validate_image_reference as check;

    #[test]
    fn accepts_common_references() {
        for r in [
            "eval",
            "eval:1.0",
            "team/model:v2",
            "localhost:5000/model",
            "registry.example.org/a/b:latest",
            "darkroom-demo-baseline:1",
            &format!("model@sha256:{}", "a".repeat(64)),
        ] {
            assert_eq!(check(r), Ok(()), "{r}");
        }
    }

    #[test]
    fn rejects_bad_references() {
        for r in
            ["", "UPPER", "a:", "a:b/c", "../etc", "a b", "a@sha256:xyz", "host:port/x", "-a", "a..b", &"a".repeat(300)]
        {
            assert!(check(r).is_err(), "{r} should be rejected");
        }
    }
}
