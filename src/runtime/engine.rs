//! What the commands that classify, and verification, need of compiled
//! rules, whatever their DFA storage.

use crate::core::bounce::{Bounce, BounceRef};
use crate::core::model::RuleSet;
use crate::runtime::classify::{
    Classification, ClassificationRef, Classifier, Explanation, Normalizer,
};

/// Compiled rules, whatever their DFA storage: compiled in this process
/// (`Classifier<Vec<u32>>`) or read from a compiled file
/// (`Classifier<&[u32]>`). Code that takes a `&dyn Engine` need not be
/// generic over the storage.
pub trait Engine: Sync {
    /// [`Classifier::classify`].
    fn classify(&self, b: &Bounce) -> Classification;
    /// [`Classifier::classify_ref`]: no allocation, no shared reference count.
    fn classify_ref(&self, normalizer: &mut Normalizer, b: BounceRef<'_>) -> ClassificationRef<'_>;
    /// [`Classifier::explain`].
    fn explain(&self, b: &Bounce) -> Explanation;
    /// The rules the tables were compiled from.
    fn rule_set(&self) -> &RuleSet;
}

impl<T: AsRef<[u32]> + Sync> Engine for Classifier<T> {
    fn classify(&self, b: &Bounce) -> Classification {
        Classifier::classify(self, b)
    }

    fn classify_ref(&self, normalizer: &mut Normalizer, b: BounceRef<'_>) -> ClassificationRef<'_> {
        Classifier::classify_ref(self, normalizer, b)
    }

    fn explain(&self, b: &Bounce) -> Explanation {
        Classifier::explain(self, b)
    }

    fn rule_set(&self) -> &RuleSet {
        self.rules()
    }
}
