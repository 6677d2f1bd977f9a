//! Identity providers for Ward: OpenID Connect discovery, key sets and token validation, the
//! authorization-code (PKCE) and device flows behind `ward login`, SAML 2.0 as a service
//! provider, and the small secrets they need.

pub mod credentials;
pub mod dpop;
pub mod oidc;
pub mod saml;
pub mod secret;
pub mod users;

pub use oidc::{Audience, Issuer, Oidc, OidcError, TokenError, Verified};
