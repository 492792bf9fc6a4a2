//! `[value_maps.NAME]`: read by hand, because the keys under `entries` are the user's.

use toml::Value as Toml;

use super::Builder;
use crate::template::is_name;
use crate::value_map::{ValueMap, ValueMaps};

impl Builder {
    pub(super) fn value_maps(&mut self, value: Option<Toml>) -> ValueMaps {
        let mut maps = ValueMaps::new();
        let tables = match value {
            None => return maps,
            Some(Toml::Table(t)) => t,
            Some(_) => {
                self.add("value_maps", "must hold tables: [value_maps.NAME]");
                return maps;
            }
        };
        for (name, table) in tables {
            let row = format!("value_maps.{name}");
            self.map_names.insert(name.clone());
            if !is_name(&name) {
                self.add(&row, "a map name is letters, digits and `_`");
            }
            if let Some(map) = self.value_map(&row, table) {
                maps.insert(name, map);
            }
        }
        maps
    }

    fn value_map(&mut self, row: &str, table: Toml) -> Option<ValueMap> {
        let Toml::Table(mut table) = table else {
            self.add(row, "must be a table with `entries` (and `default`)");
            return None;
        };
        let entries = table.remove("entries");
        let default = table.remove("default");
        if let Some(key) = table.keys().next() {
            self.add(
                row,
                format!(
                    "`{key}` is not `entries` or `default`; list values under \
                     [{row}.entries] (or `entries = {{ \"1\" = \"WH01\" }}`)"
                ),
            );
            return None;
        }
        let text = |v: &Toml| match v {
            Toml::String(s) => Some(s.clone()),
            Toml::Integer(i) => Some(i.to_string()),
            _ => None,
        };
        let mut map = ValueMap {
            entries: Default::default(),
            default: None,
        };
        let mut ok = true;
        match entries {
            None => {}
            Some(Toml::Table(entries)) => {
                for (key, value) in entries {
                    match text(&value) {
                        Some(v) => {
                            map.entries.insert(key, v);
                        }
                        None => {
                            self.add(row, format!("entry {key:?}: the T+ value must be text"));
                            ok = false;
                        }
                    }
                }
            }
            Some(_) => {
                self.add(
                    row,
                    "`entries` must be a table of \"JST value\" = \"T+ value\"",
                );
                ok = false;
            }
        }
        if let Some(default) = default {
            map.default = text(&default);
            if map.default.is_none() {
                self.add(row, "`default` must be text");
                ok = false;
            }
        }
        if ok && map.entries.is_empty() && map.default.is_none() {
            self.add(row, "has no entries and no default");
            ok = false;
        }
        ok.then_some(map)
    }
}
