//! The crate's one error type: which rule a value broke, and how.

use serde::{Serialize, Serializer};
use std::fmt;

/// A rule a value can break, named by its JSON Schema keyword.
///
/// The names are the ones a sender's validator uses, so a refusal can be
/// matched against the published schema: `pattern`, `enum`, `maxLength`...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// A required field is missing (`required`).
    Required,
    /// The value has the wrong JSON type (`type`).
    Type,
    /// The value is not in its format, such as an RFC 3339 date-time
    /// (`format`).
    Format,
    /// The text does not have the shape the rule asks for (`pattern`).
    Pattern,
    /// The value is not one of a closed set, or a move between two values
    /// that is not allowed (`enum`).
    Enum,
    /// The value must be one fixed value (`const`).
    Const,
    /// A set lacks the member asked for (`contains`).
    Contains,
    /// The text is too short (`minLength`).
    MinLength,
    /// The text is too long (`maxLength`).
    MaxLength,
    /// The number is too small (`minimum`).
    Minimum,
    /// The number, or the moment, is too large (`maximum`).
    Maximum,
    /// A field the object does not have (`additionalProperties`).
    AdditionalProperties,
    /// A list holds the same item twice (`uniqueItems`).
    UniqueItems,
}

impl Rule {
    /// Every rule, in the order above.
    pub const ALL: &'static [Rule] = &[
        Rule::Required,
        Rule::Type,
        Rule::Format,
        Rule::Pattern,
        Rule::Enum,
        Rule::Const,
        Rule::Contains,
        Rule::MinLength,
        Rule::MaxLength,
        Rule::Minimum,
        Rule::Maximum,
        Rule::AdditionalProperties,
        Rule::UniqueItems,
    ];

    /// The JSON Schema keyword of the rule.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::Type => "type",
            Rule::Format => "format",
            Rule::Pattern => "pattern",
            Rule::Enum => "enum",
            Rule::Const => "const",
            Rule::Contains => "contains",
            Rule::MinLength => "minLength",
            Rule::MaxLength => "maxLength",
            Rule::Minimum => "minimum",
            Rule::Maximum => "maximum",
            Rule::AdditionalProperties => "additionalProperties",
            Rule::UniqueItems => "uniqueItems",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialized as its keyword, the form senders see in a refusal.
impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A value that broke a rule: which rule, and a sentence saying what was
/// wrong.
///
/// Displayed as the sentence alone (`expected a lowercase uuid, got "x"`):
/// the caller knows which field the value came from and puts it in front.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// The rule broken.
    pub rule: Rule,
    /// What was wrong, for a person.
    pub message: String,
}

impl RuleError {
    /// A failure of `rule`, explained by `message`.
    pub fn new(rule: Rule, message: impl Into<String>) -> RuleError {
        RuleError {
            rule,
            message: message.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_named_by_their_json_schema_keywords() {
        let names: Vec<&str> = Rule::ALL.iter().map(|rule| rule.as_str()).collect();
        assert_eq!(
            names,
            [
                "required",
                "type",
                "format",
                "pattern",
                "enum",
                "const",
                "contains",
                "minLength",
                "maxLength",
                "minimum",
                "maximum",
                "additionalProperties",
                "uniqueItems",
            ]
        );
        for rule in Rule::ALL {
            assert_eq!(rule.to_string(), rule.as_str());
            assert_eq!(
                serde_json::to_string(rule).unwrap(),
                format!("\"{}\"", rule.as_str())
            );
        }
    }

    #[test]
    fn an_error_displays_its_sentence() {
        let err = RuleError::new(Rule::MaxLength, "must be at most 3 characters");
        assert_eq!(err.rule, Rule::MaxLength);
        assert_eq!(err.to_string(), "must be at most 3 characters");
    }
}
