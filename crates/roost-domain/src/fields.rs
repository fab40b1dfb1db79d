//! X API v2 field and expansion vocabularies (OpenAPI 2.159 names, with the 2.167 aliases), and
//! the sets a request selects from them.

use std::fmt;

/// A vocabulary of field or expansion names: an enum whose values are the names X accepts.
pub trait Vocabulary: Copy + Eq + 'static {
    /// Every value: first the names of OpenAPI 2.159 in X's documented (alphabetical) order,
    /// then the names only later documents (2.167) have.
    const ALL: &'static [Self];
    /// How many of `ALL` are 2.159's: the list X's error messages print for the parameter.
    const LISTED: usize;
    fn name(self) -> &'static str;
    /// Names of later X documents that mean the same value.
    fn alias(name: &str) -> Option<Self> {
        let _ = name;
        None
    }
    fn index(self) -> u32;
}

macro_rules! vocabulary {
    ($(#[$m:meta])* $ty:ident { $( $variant:ident => $name:literal ),* $(,)? }
     $( later { $( $lvariant:ident => $lname:literal ),* $(,)? } )?
     $( aliases { $( $alias:literal => $target:ident ),* $(,)? } )?) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $ty { $( $variant, )* $( $( $lvariant, )* )? }

        impl Vocabulary for $ty {
            const ALL: &'static [Self] = &[ $( $ty::$variant, )* $( $( $ty::$lvariant, )* )? ];
            const LISTED: usize = [ $( stringify!($variant) ),* ].len();
            fn name(self) -> &'static str {
                match self { $( $ty::$variant => $name, )* $( $( $ty::$lvariant => $lname, )* )? }
            }
            $( fn alias(name: &str) -> Option<Self> {
                match name { $( $alias => Some($ty::$target), )* _ => None }
            } )?
            fn index(self) -> u32 {
                self as u32
            }
        }
    };
}

vocabulary!(
    /// `user.fields`
    UserField {
        Affiliation => "affiliation", ConfirmedEmail => "confirmed_email", ConnectionStatus => "connection_status",
        CreatedAt => "created_at", Description => "description", Entities => "entities", Id => "id",
        IsIdentityVerified => "is_identity_verified", Location => "location", MostRecentTweetId => "most_recent_tweet_id",
        Name => "name", Parody => "parody", PinnedTweetId => "pinned_tweet_id", ProfileBannerUrl => "profile_banner_url",
        ProfileImageUrl => "profile_image_url", Protected => "protected", PublicMetrics => "public_metrics",
        ReceivesYourDm => "receives_your_dm", Subscription => "subscription", SubscriptionType => "subscription_type",
        Url => "url", Username => "username", Verified => "verified", VerifiedFollowersCount => "verified_followers_count",
        VerifiedType => "verified_type", Withheld => "withheld",
    }
    later { SubscribesToYou => "subscribes_to_you" }
);

vocabulary!(
    /// `tweet.fields` (2.167: `post.fields`)
    TweetField {
        Article => "article", Attachments => "attachments", AuthorId => "author_id", CardUri => "card_uri",
        CommunityId => "community_id", ContextAnnotations => "context_annotations", ConversationId => "conversation_id",
        CreatedAt => "created_at", DisplayTextRange => "display_text_range", EditControls => "edit_controls",
        EditHistoryTweetIds => "edit_history_tweet_ids", Entities => "entities", Geo => "geo", Id => "id",
        InReplyToUserId => "in_reply_to_user_id", Lang => "lang", MediaMetadata => "media_metadata",
        NonPublicMetrics => "non_public_metrics", NoteTweet => "note_tweet", OrganicMetrics => "organic_metrics",
        PossiblySensitive => "possibly_sensitive", PromotedMetrics => "promoted_metrics", PublicMetrics => "public_metrics",
        ReferencedTweets => "referenced_tweets", ReplySettings => "reply_settings", Scopes => "scopes", Source => "source",
        SuggestedSourceLinks => "suggested_source_links",
        SuggestedSourceLinksWithCounts => "suggested_source_links_with_counts", Text => "text", Withheld => "withheld",
    }
    later {
        ArticleTitle => "article_title", MatchedMediaNotes => "matched_media_notes",
        NoteRequestSuggestions => "note_request_suggestions", PaidPartnership => "paid_partnership",
    }
    aliases { "note_post" => NoteTweet }
);

vocabulary!(
    /// `space.fields`
    SpaceField {
        CreatedAt => "created_at", CreatorId => "creator_id", EndedAt => "ended_at", HostIds => "host_ids", Id => "id",
        InvitedUserIds => "invited_user_ids", IsTicketed => "is_ticketed", Lang => "lang",
        ParticipantCount => "participant_count", ScheduledStart => "scheduled_start", SpeakerIds => "speaker_ids",
        StartedAt => "started_at", State => "state", SubscriberCount => "subscriber_count", Title => "title",
        TopicIds => "topic_ids", UpdatedAt => "updated_at",
    }
);

vocabulary!(
    /// `media.fields`
    MediaField {
        AltText => "alt_text", DurationMs => "duration_ms", Height => "height", MediaKey => "media_key",
        NonPublicMetrics => "non_public_metrics", OrganicMetrics => "organic_metrics",
        PreviewImageUrl => "preview_image_url", PromotedMetrics => "promoted_metrics", PublicMetrics => "public_metrics",
        Type => "type", Url => "url", Variants => "variants", Width => "width",
    }
);

vocabulary!(
    /// `poll.fields`
    PollField {
        DurationMinutes => "duration_minutes", EndDatetime => "end_datetime", Id => "id", Options => "options",
        VotingStatus => "voting_status",
    }
);

vocabulary!(
    /// `place.fields`
    PlaceField {
        ContainedWithin => "contained_within", Country => "country", CountryCode => "country_code",
        FullName => "full_name", Geo => "geo", Id => "id", Name => "name", PlaceType => "place_type",
    }
);

vocabulary!(
    /// `topic.fields`
    TopicField { Description => "description", Id => "id", Name => "name" }
);

vocabulary!(
    /// `expansions` on user endpoints.
    UserExpansion {
        AffiliationUserId => "affiliation.user_id", MostRecentTweetId => "most_recent_tweet_id",
        PinnedTweetId => "pinned_tweet_id",
    }
    aliases { "affiliation" => AffiliationUserId, "most_recent_post_id" => MostRecentTweetId, "pinned_post_id" => PinnedTweetId }
);

vocabulary!(
    /// `expansions` on tweet endpoints.
    TweetExpansion {
        ArticleCoverMedia => "article.cover_media", ArticleMediaEntities => "article.media_entities",
        AttachmentsMediaKeys => "attachments.media_keys", AttachmentsMediaSourceTweet => "attachments.media_source_tweet",
        AttachmentsPollIds => "attachments.poll_ids", AuthorId => "author_id",
        EditHistoryTweetIds => "edit_history_tweet_ids", EntitiesMentionsUsername => "entities.mentions.username",
        GeoPlaceId => "geo.place_id", InReplyToUserId => "in_reply_to_user_id",
        EntitiesNoteMentionsUsername => "entities.note.mentions.username", ReferencedTweetsId => "referenced_tweets.id",
        ReferencedTweetsIdAttachmentsMediaKeys => "referenced_tweets.id.attachments.media_keys",
        ReferencedTweetsIdAuthorId => "referenced_tweets.id.author_id",
    }
    // 2.167's Post carries its author's `username`, and its `username` expansion brings that
    // user: the author.
    aliases {
        "edit_history_post_ids" => EditHistoryTweetIds, "referenced_posts" => ReferencedTweetsId,
        "username" => AuthorId,
    }
);

vocabulary!(
    /// `expansions` on space endpoints.
    SpaceExpansion {
        CreatorId => "creator_id", HostIds => "host_ids", InvitedUserIds => "invited_user_ids",
        SpeakerIds => "speaker_ids", TopicIds => "topic_ids",
    }
);

/// The `post.fields` values of OpenAPI 2.167, in its order: what X's message lists when a
/// client that sent `post.fields` names an unknown value. Every one of them is accepted.
pub const POST_FIELDS_2167: &str = "article,article_title,attachments,card_uri,community_id,context_annotations,conversation_id,created_at,display_text_range,edit_controls,entities,geo,id,lang,matched_media_notes,media_metadata,non_public_metrics,note_post,note_request_suggestions,organic_metrics,paid_partnership,possibly_sensitive,promoted_metrics,public_metrics,reply_settings,scopes,source,suggested_source_links,suggested_source_links_with_counts,text,withheld";

/// A set of values of one vocabulary, as one request selected them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Selection<V: Vocabulary> {
    bits: u64,
    _v: std::marker::PhantomData<V>,
}

impl<V: Vocabulary> Default for Selection<V> {
    fn default() -> Self {
        Self {
            bits: 0,
            _v: std::marker::PhantomData,
        }
    }
}

/// A value that is not in the vocabulary: X answers 400 naming the parameter and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    pub parameter: String,
    pub values: Vec<String>,
    pub allowed: String,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "The `{}` query parameter value [{}] is not one of [{}]",
            self.parameter,
            self.values.join(","),
            self.allowed
        )
    }
}

impl<V: Vocabulary> Selection<V> {
    /// Parses X's comma-separated form. Empty items are ignored; unknown names are collected
    /// into one error, as X reports them.
    pub fn parse(parameter: &str, value: &str) -> Result<Self, UnknownValue> {
        let mut set = Self::default();
        let mut unknown = Vec::new();
        for name in value.split(',').filter(|n| !n.is_empty()) {
            match V::ALL
                .iter()
                .copied()
                .find(|v| v.name() == name)
                .or_else(|| V::alias(name))
            {
                Some(v) => set = set.with(v),
                None => unknown.push(name.chars().take(64).collect()),
            }
        }
        if unknown.is_empty() {
            Ok(set)
        } else {
            Err(UnknownValue {
                parameter: parameter.to_owned(),
                values: unknown,
                allowed: names::<V>(),
            })
        }
    }

    #[must_use]
    pub fn with(mut self, v: V) -> Self {
        self.bits |= 1 << v.index();
        self
    }

    pub fn contains(&self, v: V) -> bool {
        self.bits & (1 << v.index()) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// The set as a bit mask (one bit per value's index), e.g. as part of a cache key.
    pub fn bits(&self) -> u64 {
        self.bits
    }

    pub fn iter(&self) -> impl Iterator<Item = V> + '_ {
        V::ALL.iter().copied().filter(|v| self.contains(*v))
    }
}

impl<V: Vocabulary + fmt::Debug> fmt::Debug for Selection<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The comma-joined list of a vocabulary's 2.159 names, as X prints it in error messages.
pub fn names<V: Vocabulary>() -> String {
    V::ALL[..V::LISTED]
        .iter()
        .map(|v| v.name())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        fn check<V: Vocabulary + fmt::Debug>() {
            assert!(V::ALL.len() <= 64);
            for v in V::ALL {
                let s: Selection<V> = Selection::parse("p", v.name()).unwrap();
                assert_eq!(s.iter().collect::<Vec<_>>(), vec![*v]);
            }
        }
        check::<UserField>();
        check::<TweetField>();
        check::<SpaceField>();
        check::<MediaField>();
        check::<PollField>();
        check::<PlaceField>();
        check::<TopicField>();
        check::<UserExpansion>();
        check::<TweetExpansion>();
        check::<SpaceExpansion>();
    }

    #[test]
    fn parses_lists_and_aliases() {
        let s: Selection<TweetExpansion> =
            Selection::parse("expansions", "author_id,referenced_posts,,").unwrap();
        assert!(s.contains(TweetExpansion::AuthorId));
        assert!(s.contains(TweetExpansion::ReferencedTweetsId));
        let u: Selection<UserExpansion> = Selection::parse("expansions", "pinned_post_id").unwrap();
        assert!(u.contains(UserExpansion::PinnedTweetId));
        let a: Selection<TweetExpansion> = Selection::parse("expansions", "username").unwrap();
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![TweetExpansion::AuthorId]);
    }

    #[test]
    fn every_name_of_2_167_is_accepted_and_later_names_are_not_listed() {
        for name in POST_FIELDS_2167.split(',') {
            assert!(
                Selection::<TweetField>::parse("post.fields", name).is_ok(),
                "{name}"
            );
        }
        let u: Selection<UserField> = Selection::parse("user.fields", "subscribes_to_you").unwrap();
        assert!(u.contains(UserField::SubscribesToYou));
        // X's 2.159 messages list 2.159's names only.
        assert!(!names::<UserField>().contains("subscribes_to_you"));
        assert!(names::<UserField>().ends_with("verified_type,withheld"));
        assert!(!names::<TweetField>().contains("paid_partnership"));
        assert_eq!(TweetField::LISTED, 31);
    }

    #[test]
    fn unknown_values_are_named() {
        let e = Selection::<TopicField>::parse("topic.fields", "name,foo,bar").unwrap_err();
        assert_eq!(e.values, vec!["foo", "bar"]);
        assert_eq!(
            e.to_string(),
            "The `topic.fields` query parameter value [foo,bar] is not one of [description,id,name]"
        );
        assert!(names::<SpaceExpansion>().starts_with("creator_id,host_ids"));
    }
}
