//! Commands (`COM_*`): the first byte of every packet a client sends after login.

pub const SLEEP: u8 = 0x00;
pub const QUIT: u8 = 0x01;
pub const INIT_DB: u8 = 0x02;
pub const QUERY: u8 = 0x03;
pub const FIELD_LIST: u8 = 0x04;
pub const CREATE_DB: u8 = 0x05;
pub const DROP_DB: u8 = 0x06;
pub const REFRESH: u8 = 0x07;
pub const SHUTDOWN: u8 = 0x08;
pub const STATISTICS: u8 = 0x09;
pub const PROCESS_INFO: u8 = 0x0a;
pub const PROCESS_KILL: u8 = 0x0c;
pub const DEBUG: u8 = 0x0d;
pub const PING: u8 = 0x0e;
pub const CHANGE_USER: u8 = 0x11;
pub const BINLOG_DUMP: u8 = 0x12;
pub const STMT_PREPARE: u8 = 0x16;
pub const STMT_EXECUTE: u8 = 0x17;
pub const STMT_SEND_LONG_DATA: u8 = 0x18;
pub const STMT_CLOSE: u8 = 0x19;
pub const STMT_RESET: u8 = 0x1a;
pub const SET_OPTION: u8 = 0x1b;
pub const STMT_FETCH: u8 = 0x1c;
pub const RESET_CONNECTION: u8 = 0x1f;

/// The command's name as MySQL's documentation spells it, or its byte when it has none.
pub fn describe(command: u8) -> String {
    match name(command) {
        "an unknown command" => format!("command byte 0x{command:02x}"),
        known => known.to_owned(),
    }
}

/// The command's name as MySQL's documentation spells it, for records and errors.
pub fn name(command: u8) -> &'static str {
    match command {
        SLEEP => "COM_SLEEP",
        QUIT => "COM_QUIT",
        INIT_DB => "COM_INIT_DB",
        QUERY => "COM_QUERY",
        FIELD_LIST => "COM_FIELD_LIST",
        CREATE_DB => "COM_CREATE_DB",
        DROP_DB => "COM_DROP_DB",
        REFRESH => "COM_REFRESH",
        SHUTDOWN => "COM_SHUTDOWN",
        STATISTICS => "COM_STATISTICS",
        PROCESS_INFO => "COM_PROCESS_INFO",
        PROCESS_KILL => "COM_PROCESS_KILL",
        DEBUG => "COM_DEBUG",
        PING => "COM_PING",
        CHANGE_USER => "COM_CHANGE_USER",
        BINLOG_DUMP => "COM_BINLOG_DUMP",
        STMT_PREPARE => "COM_STMT_PREPARE",
        STMT_EXECUTE => "COM_STMT_EXECUTE",
        STMT_SEND_LONG_DATA => "COM_STMT_SEND_LONG_DATA",
        STMT_CLOSE => "COM_STMT_CLOSE",
        STMT_RESET => "COM_STMT_RESET",
        SET_OPTION => "COM_SET_OPTION",
        STMT_FETCH => "COM_STMT_FETCH",
        RESET_CONNECTION => "COM_RESET_CONNECTION",
        _ => "an unknown command",
    }
}
