//! The linker: a namespace of `(module, name) → extern` definitions used to resolve imports.

use super::store::Extern;
use crate::error::Error;
use crate::parse::Module;
use std::collections::HashMap;

#[derive(Default, Debug, Clone)]
pub struct Linker {
    defs: HashMap<(String, String), Extern>,
}

impl Linker {
    pub fn new() -> Linker {
        Linker::default()
    }

    pub fn define(&mut self, module: &str, name: &str, ext: Extern) {
        self.defs.insert((module.to_string(), name.to_string()), ext);
    }

    pub fn get(&self, module: &str, name: &str) -> Option<Extern> {
        self.defs.get(&(module.to_string(), name.to_string())).copied()
    }

    /// Resolves every import of `module`, in order.
    pub fn resolve(&self, module: &Module) -> Result<Vec<Extern>, Error> {
        module
            .imports
            .iter()
            .map(|imp| {
                self.get(&imp.module, &imp.name).ok_or_else(|| {
                    Error::Link(format!(
                        "unknown import: `{}::{}` has not been defined",
                        imp.module, imp.name
                    ))
                })
            })
            .collect()
    }
}
