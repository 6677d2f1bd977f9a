//! Identity providers for Ward: OpenID Connect discovery, key sets and token validation, the
//! authorization-code (PKCE) and device flows behind `ward login`, and the small secrets they
//! need.

pub mod oidc;
pub mod secret;

pub use oidc::{Audience, Issuer, Oidc, OidcError, TokenError, Verified};
