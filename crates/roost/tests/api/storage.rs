//! Storage and secrets (checklist G1-G4, G8, G9) and bounded growth (K3, K4).

pub mod db;
