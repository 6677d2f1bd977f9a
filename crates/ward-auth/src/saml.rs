//! SAML 2.0: Ward as the service provider of an SP-initiated login (HTTP-Redirect binding for
//! the AuthnRequest, HTTP-POST binding for the Response).
//!
//! Responses are checked by `samael` with its `xmlsec` feature (libxmlsec1): the signature of
//! the response or of the assertion must verify against the provider's signing certificate from
//! its metadata, and only the signed content is read, which defeats XML signature wrapping.
//! Then: issuer, `InResponseTo` (the request Ward sent, used once), audience (required, Ward's
//! entity id), recipient (Ward's ACS), `NotBefore`/`NotOnOrAfter` with leeway, and the assertion
//! id is remembered until it expires, so a replayed assertion is refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::EntityDescriptor;
use samael::schema::Assertion;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use ward_config::SamlIdp;

use crate::Verified;
use crate::oidc::error_chain;

const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/// How long a remembered assertion id is kept when the assertion names no expiry.
const REPLAY_WINDOW: i64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    #[error("SAML provider `{name}`: {problem}")]
    Config { name: String, problem: String },
    #[error("SAML response rejected: {0}")]
    Rejected(String),
}

/// One configured SAML identity provider and Ward's service provider for it.
pub struct SamlProvider {
    pub config: SamlIdp,
    sp: ServiceProvider,
    sso_url: String,
    entity_id: String,
    /// Assertion ids seen, with when each may be forgotten (seconds since the epoch).
    seen: Mutex<HashMap<String, i64>>,
}

impl SamlProvider {
    /// `base_url` is Ward's public address; the ACS is `{base_url}/auth/saml/acs`.
    pub fn new(config: SamlIdp, base_url: &str) -> Result<Self, SamlError> {
        let fail = |problem: String| SamlError::Config {
            name: config.name.clone(),
            problem,
        };
        let xml = std::fs::read_to_string(&config.idp_metadata_file).map_err(|e| {
            fail(format!(
                "reading {}: {e}",
                config.idp_metadata_file.display()
            ))
        })?;
        let idp: EntityDescriptor = xml.parse().map_err(|e| fail(format!("metadata: {e}")))?;
        let entity_id = config
            .entity_id
            .clone()
            .unwrap_or_else(|| format!("{base_url}/auth/saml/metadata?idp={}", config.name));
        let leeway = i64::try_from(config.leeway.0.as_secs()).unwrap_or(60);
        let sp = ServiceProviderBuilder::default()
            .entity_id(Some(entity_id.clone()))
            .metadata_url(Some(entity_id.clone()))
            .acs_url(Some(format!("{base_url}/auth/saml/acs")))
            .slo_url(None::<String>)
            .idp_metadata(idp)
            .allow_idp_initiated(false)
            .max_clock_skew(chrono::Duration::seconds(leeway))
            .max_issue_delay(chrono::Duration::seconds(90 + leeway))
            .allowed_signature_algorithms(Some(vec![
                AllowedSignatureAlgorithm::RsaSha256,
                AllowedSignatureAlgorithm::RsaSha384,
                AllowedSignatureAlgorithm::RsaSha512,
                AllowedSignatureAlgorithm::EcdsaSha256,
                AllowedSignatureAlgorithm::EcdsaSha384,
                AllowedSignatureAlgorithm::EcdsaSha512,
            ]))
            .build()
            .map_err(|e| fail(e.to_string()))?;
        // Without a signing certificate samael would read responses unverified: refuse.
        match sp.idp_signing_certs() {
            Ok(Some(certs)) if !certs.is_empty() => {}
            Ok(_) => {
                return Err(fail(
                    "the metadata has no signing certificate; Ward accepts only signed responses"
                        .into(),
                ));
            }
            Err(e) => return Err(fail(format!("signing certificate: {e}"))),
        }
        let sso_url = sp
            .sso_binding_location(REDIRECT_BINDING)
            .ok_or_else(|| fail("the metadata offers no HTTP-Redirect single sign-on".into()))?;
        Ok(Self {
            config,
            sp,
            sso_url,
            entity_id,
            seen: Mutex::new(HashMap::new()),
        })
    }

    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// Ward's service-provider metadata for this provider, to register there: its entity id
    /// and assertion consumer service (HTTP-POST), and that assertions must be signed.
    pub fn metadata(&self) -> String {
        let acs = self.sp.acs_url.as_deref().unwrap_or_default();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
            escape(&self.entity_id),
            escape(acs)
        )
    }

    /// A new AuthnRequest: its id and the address to send the browser to.
    pub fn login_url(&self, relay_state: &str) -> Result<(String, String), SamlError> {
        let request = self
            .sp
            .make_authentication_request(&self.sso_url)
            .map_err(|e| SamlError::Rejected(format!("AuthnRequest: {e}")))?;
        let url = request
            .redirect(relay_state)
            .map_err(|e| SamlError::Rejected(format!("AuthnRequest: {e}")))?
            .ok_or_else(|| SamlError::Rejected("AuthnRequest has no destination".into()))?;
        Ok((request.id, url.into()))
    }

    /// Checks a base64 `SAMLResponse` answering the request `request_id`. Blocking (libxml2).
    pub fn verify(&self, saml_response: &str, request_id: &str) -> Result<Verified, SamlError> {
        let xml = base64::engine::general_purpose::STANDARD
            .decode(saml_response.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| SamlError::Rejected("SAMLResponse is not base64 of UTF-8 XML".into()))?;
        single_assertion(&xml)?;
        let assertion = self
            .sp
            .parse_xml_response(&xml, Some(&[request_id]))
            .map_err(|e| SamlError::Rejected(error_chain(&e)))?;
        let audience_named = assertion
            .conditions
            .as_ref()
            .and_then(|c| c.audience_restrictions.as_ref())
            .is_some_and(|r| {
                r.iter()
                    .any(|a| a.audience.iter().any(|x| x == &self.entity_id))
            });
        if !audience_named {
            return Err(SamlError::Rejected(format!(
                "the assertion is not restricted to audience {}",
                self.entity_id
            )));
        }
        let now = chrono::Utc::now().timestamp();
        let expires_at = assertion
            .conditions
            .as_ref()
            .and_then(|c| c.not_on_or_after)
            .map_or(now + REPLAY_WINDOW, |t| t.timestamp());
        {
            let mut seen = self
                .seen
                .lock()
                .map_err(|_| SamlError::Rejected("replay cache poisoned".into()))?;
            seen.retain(|_, until| *until + REPLAY_WINDOW > now);
            if seen.contains_key(&assertion.id) {
                return Err(SamlError::Rejected(format!(
                    "assertion {} was already used (replay)",
                    assertion.id
                )));
            }
            seen.insert(assertion.id.clone(), expires_at);
        }
        self.identity(&assertion, expires_at)
    }

    fn identity(&self, assertion: &Assertion, expires_at: i64) -> Result<Verified, SamlError> {
        let name_id = assertion
            .subject
            .as_ref()
            .and_then(|s| s.name_id.as_ref())
            .map(|n| n.value.trim().to_owned())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| SamlError::Rejected("the assertion has no NameID".into()))?;
        let values = |name: &str| -> Vec<String> {
            assertion
                .attribute_statements
                .iter()
                .flatten()
                .flat_map(|s| s.attributes.iter())
                .filter(|a| {
                    a.name.as_deref() == Some(name) || a.friendly_name.as_deref() == Some(name)
                })
                .flat_map(|a| a.values.iter())
                .filter_map(|v| v.value.as_ref().map(|v| v.trim().to_owned()))
                .filter(|v| !v.is_empty())
                .collect()
        };
        let username = match &self.config.username_attribute {
            Some(attr) => values(attr).into_iter().next().ok_or_else(|| {
                SamlError::Rejected(format!("the assertion has no `{attr}` attribute"))
            })?,
            None => name_id.clone(),
        };
        Ok(Verified {
            issuer: assertion.issuer.value.clone().unwrap_or_default(),
            sub: name_id,
            username,
            groups: values(&self.config.groups_attribute),
            expires_at,
        })
    }
}

/// `text` as an XML attribute value.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Refuses what signature wrapping needs: a second assertion next to, around or inside the
/// signed one (samael reads only signed content anyway; this makes the attempt an error rather
/// than a login as whoever was signed). Also refuses DTDs and encrypted assertions.
fn single_assertion(xml: &str) -> Result<(), SamlError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut assertions = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => match e.local_name().as_ref() {
                b"Assertion" => assertions += 1,
                b"EncryptedAssertion" => {
                    return Err(SamlError::Rejected(
                        "encrypted assertions are not supported".into(),
                    ));
                }
                _ => {}
            },
            Ok(Event::DocType(_)) => {
                return Err(SamlError::Rejected("a DTD is not allowed".into()));
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(SamlError::Rejected(format!("not well-formed XML: {e}"))),
        }
    }
    if assertions == 1 {
        Ok(())
    } else {
        Err(SamlError::Rejected(format!(
            "the response holds {assertions} assertions; Ward accepts exactly one (signature wrapping?)"
        )))
    }
}

/// Every configured SAML provider.
pub struct Saml {
    providers: Vec<Arc<SamlProvider>>,
}

impl Saml {
    pub fn new(configs: &[SamlIdp], base_url: &str) -> Result<Self, SamlError> {
        let providers = configs
            .iter()
            .map(|c| SamlProvider::new(c.clone(), base_url).map(Arc::new))
            .collect::<Result<_, _>>()?;
        Ok(Self { providers })
    }

    pub fn names(&self) -> Vec<String> {
        self.providers
            .iter()
            .map(|p| p.config.name.clone())
            .collect()
    }

    /// The provider called `name`, or the only one when `name` is `None`.
    pub fn by_name(&self, name: Option<&str>) -> Result<&Arc<SamlProvider>, SamlError> {
        let problem = |problem: String| SamlError::Config {
            name: name.unwrap_or("saml").to_owned(),
            problem,
        };
        match name {
            Some(n) => self
                .providers
                .iter()
                .find(|p| p.config.name == n)
                .ok_or_else(|| {
                    problem(format!(
                        "not configured (configured: {})",
                        self.names().join(", ")
                    ))
                }),
            None => match self.providers.as_slice() {
                [one] => Ok(one),
                [] => Err(problem("no SAML provider is configured".into())),
                _ => Err(problem(format!(
                    "several are configured: choose one of {}",
                    self.names().join(", ")
                ))),
            },
        }
    }
}
