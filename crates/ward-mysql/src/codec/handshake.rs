//! The connection phase: the server's greeting (Protocol::HandshakeV10), the client's
//! SSLRequest and HandshakeResponse41, and the authentication exchange after it (AuthSwitchRequest,
//! AuthMoreData).

use super::reader::{Reader, put_lenenc, put_lenenc_str};
use super::{ProtocolError, caps, malformed};

/// A server's greeting, as Ward reads it upstream and writes it to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    pub server_version: Vec<u8>,
    pub connection_id: u32,
    /// The nonce the client answers with its proof of the password (20 bytes, as sent).
    pub scramble: Vec<u8>,
    pub capabilities: u32,
    pub charset: u8,
    pub status: u16,
    pub auth_plugin: Vec<u8>,
}

/// Reads a greeting. Only protocol 10 with `CLIENT_PROTOCOL_41` is spoken.
pub fn greeting(payload: &[u8]) -> Result<Greeting, ProtocolError> {
    let what = "server greeting";
    let mut r = Reader::new(payload, what);
    if r.u8()? != 10 {
        return Err(ProtocolError::Unsupported);
    }
    let server_version = r.cstr()?.to_vec();
    let connection_id = r.u32()?;
    let mut scramble = r.bytes(8)?.to_vec();
    r.u8()?;
    let low = u32::from(r.u16()?);
    let charset = r.u8()?;
    let status = r.u16()?;
    let high = u32::from(r.u16()?);
    let capabilities = low | high << 16;
    if capabilities & caps::PROTOCOL_41 == 0 {
        return Err(ProtocolError::Unsupported);
    }
    let auth_len = usize::from(r.u8()?);
    r.bytes(10)?;
    if capabilities & caps::SECURE_CONNECTION != 0 {
        // The second part is at least 12 bytes and a NUL.
        let n = auth_len.saturating_sub(8).max(13);
        let part = r.bytes(n)?;
        let part = part.strip_suffix(&[0]).unwrap_or(part);
        scramble.extend_from_slice(part);
    }
    let auth_plugin = if capabilities & caps::PLUGIN_AUTH != 0 {
        r.cstr_or_rest().to_vec()
    } else {
        b"mysql_native_password".to_vec()
    };
    Ok(Greeting {
        server_version,
        connection_id,
        scramble,
        capabilities,
        charset,
        status,
        auth_plugin,
    })
}

impl Greeting {
    /// Appends the greeting's payload. The scramble must be 20 bytes without NULs.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(10);
        out.extend_from_slice(&self.server_version);
        out.push(0);
        out.extend_from_slice(&self.connection_id.to_le_bytes());
        let (first, second) = self.scramble.split_at(self.scramble.len().min(8));
        out.extend_from_slice(first);
        out.push(0);
        let [a, b, c, d] = self.capabilities.to_le_bytes();
        out.extend_from_slice(&[a, b, self.charset]);
        out.extend_from_slice(&self.status.to_le_bytes());
        out.extend_from_slice(&[c, d]);
        out.push((self.scramble.len() + 1) as u8);
        out.extend_from_slice(&[0; 10]);
        out.extend_from_slice(second);
        out.push(0);
        out.extend_from_slice(&self.auth_plugin);
        out.push(0);
    }
}

/// What a client sends first: a request to start TLS, or its login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHello {
    /// SSLRequest: the capability flags, then the TLS handshake.
    Ssl {
        capabilities: u32,
    },
    Login(Box<Login>),
}

/// HandshakeResponse41.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    pub capabilities: u32,
    pub max_packet: u32,
    pub charset: u8,
    pub user: Vec<u8>,
    pub auth_response: Vec<u8>,
    pub database: Option<Vec<u8>>,
    pub auth_plugin: Option<Vec<u8>>,
    /// Connection attributes (`_client_name`, `program_name`, …), in order.
    pub attributes: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Reads the client's first packet after the greeting (or the login after TLS).
pub fn client_hello(payload: &[u8]) -> Result<ClientHello, ProtocolError> {
    let what = "handshake response";
    let mut r = Reader::new(payload, what);
    let low = r.u16()?;
    let capabilities = if u32::from(low) & caps::PROTOCOL_41 == 0 {
        return Err(ProtocolError::Unsupported);
    } else {
        u32::from(low) | u32::from(r.u16()?) << 16
    };
    let max_packet = r.u32()?;
    let charset = r.u8()?;
    r.bytes(23)?;
    if r.is_empty() && capabilities & caps::SSL != 0 {
        return Ok(ClientHello::Ssl { capabilities });
    }
    let user = r.cstr()?.to_vec();
    let auth_response = if capabilities & caps::PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        r.lenenc_str()?.to_vec()
    } else if capabilities & caps::SECURE_CONNECTION != 0 {
        let n = usize::from(r.u8()?);
        r.bytes(n)?.to_vec()
    } else {
        r.cstr()?.to_vec()
    };
    let database = if capabilities & caps::CONNECT_WITH_DB != 0 && !r.is_empty() {
        Some(r.cstr_or_rest().to_vec())
    } else {
        None
    };
    let auth_plugin = if capabilities & caps::PLUGIN_AUTH != 0 && !r.is_empty() {
        Some(r.cstr_or_rest().to_vec())
    } else {
        None
    };
    let mut attributes = Vec::new();
    if capabilities & caps::CONNECT_ATTRS != 0 && !r.is_empty() {
        let total = usize::try_from(r.int()?).map_err(|_| malformed(what))?;
        let mut attrs = Reader::new(r.bytes(total)?, what);
        while !attrs.is_empty() {
            let key = attrs.lenenc_str()?.to_vec();
            let value = attrs.lenenc_str()?.to_vec();
            attributes.push((key, value));
        }
    }
    Ok(ClientHello::Login(Box::new(Login {
        capabilities,
        max_packet,
        charset,
        user,
        auth_response,
        database,
        auth_plugin,
        attributes,
    })))
}

/// Appends an SSLRequest payload.
pub fn ssl_request(out: &mut Vec<u8>, capabilities: u32, max_packet: u32, charset: u8) {
    out.extend_from_slice(&capabilities.to_le_bytes());
    out.extend_from_slice(&max_packet.to_le_bytes());
    out.push(charset);
    out.extend_from_slice(&[0; 23]);
}

impl Login {
    /// Appends the HandshakeResponse41 payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        ssl_request(out, self.capabilities, self.max_packet, self.charset);
        out.extend_from_slice(&self.user);
        out.push(0);
        if self.capabilities & caps::PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
            put_lenenc_str(out, &self.auth_response);
        } else {
            out.push(self.auth_response.len().min(255) as u8);
            out.extend_from_slice(self.auth_response.get(..255).unwrap_or(&self.auth_response));
        }
        if self.capabilities & caps::CONNECT_WITH_DB != 0 {
            out.extend_from_slice(self.database.as_deref().unwrap_or_default());
            out.push(0);
        }
        if self.capabilities & caps::PLUGIN_AUTH != 0 {
            out.extend_from_slice(self.auth_plugin.as_deref().unwrap_or_default());
            out.push(0);
        }
        if self.capabilities & caps::CONNECT_ATTRS != 0 {
            let mut attrs = Vec::new();
            for (k, v) in &self.attributes {
                put_lenenc_str(&mut attrs, k);
                put_lenenc_str(&mut attrs, v);
            }
            put_lenenc(out, attrs.len() as u64);
            out.extend_from_slice(&attrs);
        }
    }
}

/// What the server says during authentication, after the client's login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthReply<'a> {
    /// OK: logged in (the whole payload, for the client).
    Ok,
    /// ERR: refused.
    Err,
    /// AuthSwitchRequest: answer with `plugin`'s proof over `data`.
    Switch { plugin: &'a [u8], data: &'a [u8] },
    /// AuthMoreData: a plugin's own exchange goes on.
    More(&'a [u8]),
}

pub fn auth_reply(payload: &[u8]) -> Result<AuthReply<'_>, ProtocolError> {
    let mut r = Reader::new(payload, "authentication");
    match r.u8()? {
        0x00 => Ok(AuthReply::Ok),
        0xff => Ok(AuthReply::Err),
        0xfe => {
            let plugin = r.cstr_or_rest();
            let data = r.rest();
            Ok(AuthReply::Switch {
                plugin,
                data: data.strip_suffix(&[0]).unwrap_or(data),
            })
        }
        0x01 => Ok(AuthReply::More(r.rest())),
        _ => Err(malformed("authentication")),
    }
}

/// Appends an AuthSwitchRequest payload.
pub fn auth_switch(out: &mut Vec<u8>, plugin: &[u8], data: &[u8]) {
    out.push(0xfe);
    out.extend_from_slice(plugin);
    out.push(0);
    out.extend_from_slice(data);
    out.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_greeting() -> Greeting {
        Greeting {
            server_version: b"5.7.99-Ward".to_vec(),
            connection_id: 42,
            scramble: b"abcdefghijklmnopqrst".to_vec(),
            capabilities: caps::WARD,
            charset: crate::codec::UTF8MB4_GENERAL_CI,
            status: 2,
            auth_plugin: b"caching_sha2_password".to_vec(),
        }
    }

    #[test]
    fn greeting_round_trips_and_never_panics_cut_short() {
        let g = sample_greeting();
        let mut out = Vec::new();
        g.encode(&mut out);
        assert_eq!(greeting(&out), Ok(g));
        for cut in 0..out.len() - 1 {
            let _ = greeting(out.get(..cut).unwrap_or_default());
        }
    }

    #[test]
    fn mariadb_greeting() {
        // MariaDB 10.11's greeting, captured: no CLIENT_MYSQL bit, extended capabilities in the
        // filler, mysql_native_password.
        let wire = include_bytes!("../../testdata/mariadb-10.11-greeting.bin");
        let g = greeting(wire).expect("parses");
        assert_eq!(g.server_version, b"5.5.5-10.11.19-MariaDB-0+deb12u1");
        assert_eq!(g.connection_id, 4);
        assert_eq!(g.scramble.len(), 20);
        assert_eq!(g.auth_plugin, b"mysql_native_password");
        assert!(g.capabilities & caps::DEPRECATE_EOF != 0);
        assert!(g.capabilities & caps::LONG_PASSWORD == 0);
        for cut in 0..wire.len() - 1 {
            let _ = greeting(wire.get(..cut).unwrap_or_default());
        }
    }

    #[test]
    fn login_round_trips() {
        let login = Login {
            capabilities: caps::WARD & !caps::SSL,
            max_packet: 1 << 24,
            charset: 45,
            user: b"alice".to_vec(),
            auth_response: vec![1; 32],
            database: Some(b"shop".to_vec()),
            auth_plugin: Some(b"caching_sha2_password".to_vec()),
            attributes: vec![(b"_client_name".to_vec(), b"libmariadb".to_vec())],
        };
        let mut out = Vec::new();
        login.encode(&mut out);
        assert_eq!(
            client_hello(&out),
            Ok(ClientHello::Login(Box::new(login.clone())))
        );
        for cut in 0..out.len() {
            let _ = client_hello(out.get(..cut).unwrap_or_default());
        }
        let mut ssl = Vec::new();
        ssl_request(&mut ssl, caps::WARD, 1 << 24, 45);
        assert_eq!(
            client_hello(&ssl),
            Ok(ClientHello::Ssl {
                capabilities: caps::WARD
            })
        );
    }

    #[test]
    fn auth_replies() {
        let mut out = Vec::new();
        auth_switch(
            &mut out,
            b"client_ed25519",
            b"0123456789abcdef0123456789abcdef",
        );
        assert_eq!(
            auth_reply(&out),
            Ok(AuthReply::Switch {
                plugin: b"client_ed25519",
                data: b"0123456789abcdef0123456789abcdef"
            })
        );
        assert_eq!(auth_reply(b"\x01\x04"), Ok(AuthReply::More(b"\x04")));
        assert!(auth_reply(b"").is_err());
        assert!(auth_reply(b"\x07").is_err());
    }
}
