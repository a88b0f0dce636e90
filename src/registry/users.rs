//! `<user>` names resolved through the system's user database (passwd, NSS), each name once per
//! load. The only place the registry asks the operating system about users.

use std::collections::HashMap;
use std::ffi::CString;

use actors::spec::UserSpec;
use nix::unistd::{User, getgrouplist};

/// A lookup cache for one load.
#[derive(Default)]
pub struct Users {
    cache: HashMap<String, Result<UserSpec, String>>,
}

impl Users {
    /// The user `name` with its groups and home, or why there is none.
    pub fn lookup(&mut self, name: &str) -> Result<UserSpec, String> {
        self.cache
            .entry(name.to_string())
            .or_insert_with(|| lookup(name))
            .clone()
    }
}

fn lookup(name: &str) -> Result<UserSpec, String> {
    let user = User::from_name(name)
        .map_err(|e| format!("cannot look up user `{name}`: {e}"))?
        .ok_or_else(|| format!("unknown user `{name}`"))?;
    let c_name = CString::new(name).map_err(|_| format!("unknown user `{name}`"))?;
    let groups = getgrouplist(&c_name, user.gid)
        .map_err(|e| format!("cannot list the groups of user `{name}`: {e}"))?;
    Ok(UserSpec {
        name: name.to_string(),
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups: groups.iter().map(|g| g.as_raw()).collect(),
        home: user.dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_with_its_groups() {
        let root = Users::default().lookup("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        assert!(root.home.is_absolute());
    }

    #[test]
    fn an_unknown_user_is_an_error() {
        let error = Users::default().lookup("no-such-user-xq7").unwrap_err();
        assert_eq!(error, "unknown user `no-such-user-xq7`");
    }
}
