//! Masking profiles named by resources (`masking_profile`) and grants (`client_profile`):
//! the names must exist, and a resource's record is never masked less than by the default profile.

use super::{Config, ConfigError};

impl Config {
    /// Every `masking_profile` and `client_profile` names a profile of `[masking.profiles]`
    /// (or `default`).
    pub(super) fn validate_profile_names(&self) -> Result<(), ConfigError> {
        let named = self.resources.iter().enumerate().map(|(i, r)| {
            (
                format!("resources[{i}].masking_profile"),
                &r.masking_profile,
            )
        });
        let granted = self
            .grants
            .iter()
            .enumerate()
            .map(|(i, g)| (format!("grants[{i}].client_profile"), &g.client_profile));
        for (key, name) in named.chain(granted) {
            let Some(name) = name else { continue };
            if name != "default" && !self.masking.profiles.contains_key(name) {
                let mut known: Vec<&str> =
                    self.masking.profiles.keys().map(String::as_str).collect();
                known.retain(|n| *n != "default");
                known.insert(0, "default");
                return Err(self.invalid(
                    key,
                    format!(
                        "no masking profile named `{name}` (profiles: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks the compiled `masking` against the resources: the profile that masks a resource's
    /// record applies every rule of the default profile, so no resource is recorded with less
    /// masked than the default (mask before persist: docs/masking.md). Run once the masking rules are compiled.
    pub fn check_record_profiles(&self, masking: &ward_mask::Masking) -> Result<(), ConfigError> {
        let floor = masking.default_profile();
        for (i, r) in self.resources.iter().enumerate() {
            let Some(name) = r.masking_profile.as_deref() else {
                continue;
            };
            let key = format!("resources[{i}].masking_profile");
            let Some(profile) = masking.profile(name) else {
                return Err(self.invalid(key, format!("no masking profile named `{name}`")));
            };
            let missing = floor.missing_from(profile);
            if missing.is_empty() {
                continue;
            }
            let mut left_out = Vec::new();
            if !missing.rules.is_empty() {
                left_out.push(format!("rules {}", missing.rules.join(", ")));
            }
            if !missing.columns.is_empty() {
                left_out.push(format!("column rules {}", missing.columns.join(", ")));
            }
            return Err(self.invalid(
                key,
                format!(
                    "profile `{name}` leaves out {} of the default profile; a resource's record is \
                     never masked less than by the default profile: add them to `{name}`, or \
                     narrow [masking.profiles.default]",
                    left_out.join(" and ")
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const BASE: &str = r#"
        [[resources]]
        name = "shop"
        kind = "postgres"
        address = "127.0.0.1:5432"
        database = "shop"
        user = "app"
        masking_profile = "PROFILE"
        [[grants]]
        group = "support"
        resources = ["shop"]
        mask_client = true
        client_profile = "CLIENT"
        [masking.profiles.cards]
        rules = ["card"]
        columns = []
        [masking.profiles.wide]
    "#;

    fn load(profile: &str, client: &str, extra: &str) -> Result<Config, ConfigError> {
        let text = BASE.replace("PROFILE", profile).replace("CLIENT", client) + extra;
        Config::from_toml(&text, Path::new("/etc/ward/ward.toml"))
    }

    #[test]
    fn profiles_resolve_per_resource_and_per_grant() {
        let c = load("wide", "cards", "").expect("valid");
        let shop = c.resource("shop").expect("shop");
        assert_eq!(shop.record_profile(), "wide");
        let grant = c
            .grant_for("someone", &["support".into()], "shop")
            .expect("grant");
        assert_eq!(grant.client_profile_for(shop), "cards");
        let c = load("default", "default", "").expect("default is always a profile");
        assert_eq!(
            c.resource("shop").map(|r| r.record_profile()),
            Some("default")
        );
    }

    #[test]
    fn a_grant_without_client_profile_uses_the_resource_profile() {
        let text = BASE
            .replace("PROFILE", "wide")
            .replace("client_profile = \"CLIENT\"\n", "");
        let c = Config::from_toml(&text, Path::new("/etc/ward/ward.toml")).expect("valid");
        let shop = c.resource("shop").expect("shop");
        let grant = c
            .grant_for("someone", &["support".into()], "shop")
            .expect("grant");
        assert_eq!(grant.client_profile_for(shop), "wide");
    }

    #[test]
    fn unknown_profile_names_stop_loading_with_file_key_and_known_profiles() {
        let err = load("wied", "cards", "").expect_err("unknown resource profile");
        assert_eq!(
            err.to_string(),
            "/etc/ward/ward.toml: resources[0].masking_profile: no masking profile named `wied` \
             (profiles: default, cards, wide)"
        );
        let err = load("wide", "card", "").expect_err("unknown client profile");
        assert_eq!(
            err.to_string(),
            "/etc/ward/ward.toml: grants[0].client_profile: no masking profile named `card` \
             (profiles: default, cards, wide)"
        );
    }

    #[test]
    fn client_profile_without_mask_client_is_refused() {
        let text = BASE
            .replace("PROFILE", "wide")
            .replace("CLIENT", "cards")
            .replace("mask_client = true", "mask_client = false");
        let err =
            Config::from_toml(&text, Path::new("/etc/ward/ward.toml")).expect_err("no effect");
        assert_eq!(
            err.to_string(),
            "/etc/ward/ward.toml: grants[0].client_profile: has no effect without `mask_client = true`"
        );
    }

    #[test]
    fn a_record_profile_must_cover_the_default_profile() {
        // The implicit default applies every rule: a narrower profile would record secrets.
        let c = load("cards", "cards", "").expect("names are valid");
        let masking = c.masking.compile(None).expect("compiles");
        let err = c.check_record_profiles(&masking).expect_err("narrower");
        let msg = err.to_string();
        assert!(
            msg.starts_with("/etc/ward/ward.toml: resources[0].masking_profile: profile `cards` leaves out rules private_key, "),
            "{msg}"
        );
        assert!(
            msg.contains("email") && !msg.contains("column rules"),
            "{msg}"
        );

        // With a narrower default, the same profile is a superset and may mask the record.
        let c = load(
            "cards",
            "cards",
            "[masking.profiles.default]\nrules = [\"card\"]\n[[masking.columns]]\ncolumn = \"*password*\"\n",
        )
        .expect("valid");
        let masking = c.masking.compile(None).expect("compiles");
        let err = c
            .check_record_profiles(&masking)
            .expect_err("column rule left out");
        assert!(
            err.to_string()
                .contains("leaves out column rules *password* of the default profile"),
            "{err}"
        );
        let c = load(
            "wide",
            "cards",
            "[masking.profiles.default]\nrules = [\"card\"]\n",
        )
        .expect("valid");
        let masking = c.masking.compile(None).expect("compiles");
        c.check_record_profiles(&masking)
            .expect("wide covers the default");
        let c = load(
            "cards",
            "cards",
            "[masking.profiles.default]\nrules = [\"card\"]\n",
        )
        .expect("valid");
        let masking = c.masking.compile(None).expect("compiles");
        c.check_record_profiles(&masking).expect("equal is enough");
    }
}
