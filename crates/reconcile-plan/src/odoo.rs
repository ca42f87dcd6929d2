//! What Odoo's columns mean: the name in a language, and the series.

use serde_json::Value;

/// The language Odoo always writes a translated value in, and the fallback
/// its own SQL reads (`COALESCE(col->>'<lang>', col->>'en_US')`).
pub const FALLBACK_LANGUAGE: &str = "en_US";

/// The project's name in `language`: that translation, else `en_US`'s, else
/// the translation of the first language code in byte order. Only string
/// values count (a `null` translation is no translation); keys that start
/// with `_` are Odoo's edit-translation variants, not languages, and never
/// count. A plain string is the name in every language. `None` when no
/// translation is a string.
///
/// An empty string is a translation, as it is to Odoo's `COALESCE`: the
/// name Odoo shows in that language is empty, and it is mirrored as such or
/// not at all (the name rule refuses it), never replaced by another
/// language's.
pub fn name_in<'a>(name: &'a Value, language: &str) -> Option<&'a str> {
    match name {
        Value::String(text) => Some(text),
        Value::Object(translations) => {
            let translation = |code: &str| translations.get(code).and_then(Value::as_str);
            translation(language)
                .or_else(|| translation(FALLBACK_LANGUAGE))
                .or_else(|| {
                    // A minimum, not the map's first entry: the map's order
                    // depends on serde_json's features, this must not.
                    translations
                        .iter()
                        .filter(|(code, _)| !code.starts_with('_'))
                        .filter_map(|(code, value)| value.as_str().map(|text| (code, text)))
                        .min_by(|a, b| a.0.cmp(b.0))
                        .map(|(_, text)| text)
                })
        }
        _ => None,
    }
}

/// The series of a module version as `ir_module_module.latest_version`
/// holds it: Odoo prefixes every module's version with its series
/// (`adapt_version`), so `19.0.1.3` is series `19.0`, module version `1.3`,
/// and `saas~18.3.1.0` is `saas~18.3`. `None` unless it is a series and at
/// least one more part, all digits: a bare `19.0` could be a module version
/// without its series, and a guessed series would be written on every
/// project. Whether the series itself is one is then `ops-events`' rule.
pub fn series_of(latest_version: &str) -> Option<String> {
    let (prefix, version) = match latest_version.strip_prefix("saas~") {
        Some(rest) => ("saas~", rest),
        None => ("", latest_version),
    };
    let parts: Vec<&str> = version.split('.').collect();
    let digits = |part: &&str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if parts.len() < 3 || !parts.iter().all(digits) {
        return None;
    }
    Some(format!("{prefix}{}.{}", parts[0], parts[1]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_configured_language_then_en_us_then_the_first_code() {
        let name = json!({"en_US": "Office", "fr_FR": "Bureau", "de_DE": "Büro"});
        assert_eq!(name_in(&name, "fr_FR"), Some("Bureau"));
        assert_eq!(name_in(&name, "es_ES"), Some("Office"));
        assert_eq!(name_in(&name, "en_US"), Some("Office"));
        let name = json!({"nl_NL": "Kantoor", "fr_FR": "Bureau", "de_DE": "Büro"});
        assert_eq!(name_in(&name, "es_ES"), Some("Büro"));
    }

    #[test]
    fn only_strings_are_translations() {
        let name = json!({"fr_FR": null, "en_US": 7, "de_DE": ["Büro"], "it_IT": "Ufficio"});
        assert_eq!(name_in(&name, "fr_FR"), Some("Ufficio"));
        assert_eq!(name_in(&json!({"fr_FR": null}), "fr_FR"), None);
        assert_eq!(name_in(&json!({}), "fr_FR"), None);
        for not_a_name in [json!(null), json!(7), json!(true), json!(["Office"])] {
            assert_eq!(name_in(&not_a_name, "en_US"), None, "{not_a_name}");
        }
    }

    #[test]
    fn edit_variants_are_not_languages() {
        let name = json!({"_en_US": "<b>Office</b>", "_fr_FR": "x", "nl_NL": "Kantoor"});
        assert_eq!(name_in(&name, "fr_FR"), Some("Kantoor"));
        assert_eq!(name_in(&json!({"_en_US": "Office"}), "fr_FR"), None);
    }

    #[test]
    fn an_empty_translation_is_the_name_odoo_shows() {
        let name = json!({"en_US": "Office", "fr_FR": ""});
        assert_eq!(name_in(&name, "fr_FR"), Some(""));
    }

    #[test]
    fn a_plain_string_is_the_name_in_every_language() {
        assert_eq!(name_in(&json!("Office"), "fr_FR"), Some("Office"));
    }

    #[test]
    fn series_of_module_versions() {
        for (version, series) in [
            ("19.0.1.3", "19.0"),
            ("19.0.1.0.2", "19.0"),
            ("18.0.1", "18.0"),
            ("saas~18.3.1.3", "saas~18.3"),
            ("1234.0.1", "1234.0"),
        ] {
            assert_eq!(series_of(version).as_deref(), Some(series), "{version}");
        }
        for version in [
            "",
            "19.0",
            "19",
            "19.0.",
            "19..0.1",
            ".19.0.1",
            "19.0.1a",
            "v19.0.1",
            "saas~19.0",
            "saas~",
            " 19.0.1",
            "19.0.1 ",
            "19.0.1.3\n",
            "١٩.0.1",
        ] {
            assert_eq!(series_of(version), None, "{version:?}");
        }
    }
}
