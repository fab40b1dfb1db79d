//! The topics Spaces are about.
//!
//! X's Space topics are a fixed taxonomy: a creator picks from X's list, and the API gives each
//! as a `Topic` (`id`, `name`, `description`; OpenAPI 2.159). roost ships its own fixed catalogue
//! of broad topics in that shape (the ids are roost's, not X's); an import file may add topics,
//! for instance X's real ids and names when it mirrors real Spaces.

use roost_store::TopicRecord;

/// (id, name, description)
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    ("1600000000000000001", "Technology", "All about technology"),
    (
        "1600000000000000002",
        "Software development",
        "Programming, tools and the craft of building software",
    ),
    (
        "1600000000000000003",
        "Web development",
        "Building websites, web apps and the APIs behind them",
    ),
    (
        "1600000000000000004",
        "Open source",
        "Projects built in the open, and the people who maintain them",
    ),
    (
        "1600000000000000005",
        "Computer security",
        "Keeping systems, accounts and data safe",
    ),
    (
        "1600000000000000006",
        "Data science",
        "Data, analytics and machine learning",
    ),
    (
        "1600000000000000007",
        "Business & finance",
        "Companies, markets and money",
    ),
    (
        "1600000000000000008",
        "Food",
        "Cooking, baking and eating well",
    ),
    (
        "1600000000000000009",
        "Coffee",
        "Beans, brewing and the cafés that serve them",
    ),
    (
        "1600000000000000010",
        "Outdoors",
        "Hiking, climbing, trail running and life outside",
    ),
    (
        "1600000000000000011",
        "Photography",
        "Cameras, light and the pictures they make",
    ),
    (
        "1600000000000000012",
        "Music",
        "Artists, genres and making music",
    ),
    (
        "1600000000000000013",
        "Jazz",
        "Standards, records and late-night sessions",
    ),
    (
        "1600000000000000014",
        "Cities",
        "Urban life, public transport and city planning",
    ),
    ("1600000000000000015", "Cycling", "Bikes, routes and riding"),
    (
        "1600000000000000016",
        "Books",
        "Reading, writing and literature",
    ),
    (
        "1600000000000000017",
        "Travel",
        "Places, trips and the way there",
    ),
    (
        "1600000000000000018",
        "Science",
        "Research, discoveries and how the world works",
    ),
    (
        "1600000000000000019",
        "Gaming",
        "Video games, board games and the people who play them",
    ),
    ("1600000000000000020", "Sports", "Teams, games and athletes"),
];

/// The built-in catalogue as records.
pub fn catalogue() -> impl Iterator<Item = TopicRecord> {
    CATALOGUE.iter().map(|(id, name, description)| TopicRecord {
        id: (*id).to_owned(),
        name: (*name).to_owned(),
        description: Some((*description).to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_storable() {
        let mut ids: Vec<&str> = CATALOGUE.iter().map(|t| t.0).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CATALOGUE.len());
        // Stored comma-joined in a Space's topic_ids.
        assert!(ids.iter().all(|i| !i.contains(',') && !i.is_empty()));
    }
}
