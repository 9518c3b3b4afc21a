//! Generated code must not pick up user items that share the names of std or session-core
//! items, and raw-identifier fields get usable accessors.
#![allow(dead_code, non_camel_case_types)]

struct Option;
struct Some;
struct None;
struct Result;
struct Ok;
struct Err;
struct Session;
struct Key;
struct Default;
struct Clone;
struct From;
struct AsRef;
struct Deref;
struct Future;
struct Send;
struct bool;
struct str;
mod fmt {}
mod session_core_private {}

#[derive(::session_core::SessionSchema)]
struct Tricky {
    r#type: String,
    r#loop: std::option::Option<u8>,
    #[session(default)]
    value: u32,
    session_id: u64,
}

fn main() {
    assert_eq!(TrickySession::TYPE.name(), "type");
    assert_eq!(TrickySession::LOOP.name(), "loop");
    fn accessors(tricky: &TrickySession) {
        let _ = tricky.r#type();
        let _ = tricky.set_type(String::new());
        let _ = tricky.has_loop();
        let _ = tricky.delete_loop();
        // `set_value` shadows the raw `Session::set_value` of the same name.
        let _ = tricky.set_value(1u32);
        let _ = tricky.session_id();
    }
    let _ = accessors;
}
