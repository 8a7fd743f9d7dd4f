//! Turning a citizen's HTML mail into something safe to show an agent.
//!
//! Defence in depth: ammonia removes scripts, event handlers, `javascript:` URLs,
//! `<style>` blocks and `style` attributes (so no CSS `url()` tricks); remote images
//! are dropped unless the agent asked for them (they are tracking beacons); and the
//! result is only ever shown inside a sandboxed iframe served with its own strict
//! CSP, so even a sanitiser bug could not run script in the app's origin.

use std::borrow::Cow;

/// Sanitise mail HTML. With `show_images == false` every `<img>` that points outside
/// the message loses its `src` (the `alt` text stays so the agent knows an image was
/// there).
pub fn sanitize_mail_html(html: &str, show_images: bool) -> String {
    let mut b = ammonia::Builder::default();
    b.url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(move |element, attribute, value| {
            if element == "img" && attribute == "src" {
                let v = value.trim_start().to_ascii_lowercase();
                let remote =
                    v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//");
                if !remote || !show_images {
                    return None;
                }
            }
            Some(Cow::Borrowed(value))
        });
    b.clean(html).to_string()
}

/// The CSP for the sandboxed mail-body route: nothing may run or load, except
/// images the agent explicitly asked for. `frame-ancestors 'self'` so only the app
/// may frame it.
pub fn mail_body_csp(show_images: bool) -> String {
    let img = if show_images {
        "img-src https: http: data:"
    } else {
        "img-src data:"
    };
    format!("sandbox; default-src 'none'; {img}; style-src 'none'; form-action 'none'; frame-ancestors 'self'; base-uri 'none'")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = r#"<p onclick="x()">Bonjour</p><script>alert(1)</script>
<img src="https://tracker.example/p.gif" alt="pixel" onerror="alert(2)">
<a href="javascript:alert(3)">clic</a><a href="https://impots.gouv.fr">ok</a>
<style>body{background:url(https://evil.example/x)}</style>
<div style="background-image:url('https://evil.example/y')">css</div>
<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input name=a></form>"#;

    #[test]
    fn hostile_html_is_neutralised() {
        let out = sanitize_mail_html(HOSTILE, false);
        let lower = out.to_ascii_lowercase();
        for bad in [
            "<script",
            "onerror",
            "onclick",
            "javascript:",
            "<style",
            "url(",
            "tracker.example",
            "evil.example",
            "<iframe",
            "<form",
            "<input",
        ] {
            assert!(!lower.contains(bad), "{bad} survived: {out}");
        }
        assert!(out.contains("Bonjour"));
        assert!(out.contains("https://impots.gouv.fr"));
        assert!(out.contains("alt=\"pixel\""));
    }

    #[test]
    fn remote_images_only_on_request() {
        let out = sanitize_mail_html(HOSTILE, true);
        assert!(out.contains("https://tracker.example/p.gif"));
        assert!(!out.to_ascii_lowercase().contains("onerror"));
        assert!(mail_body_csp(true).contains("img-src https:"));
        assert!(!mail_body_csp(false).contains("https:"));
    }
}
