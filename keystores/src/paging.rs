//! A bound on listing loops that follow a backend's continuation tokens.
//!
//! A backend, or anything between it and us, that keeps answering "there is another page"
//! (an endless `NextToken`, `nextLink` or `nextPageToken`) would otherwise keep a listing
//! running, and its memory growing, forever. Every paged loop charges each page and the items
//! on it to a [`ListBudget`]; past [`MAX_PAGES`] pages or [`MAX_ITEMS`] items the listing fails
//! with [`Error::Backend`] naming the backend, and the server keeps serving.

use crate::Error;

/// The most pages one listing follows: 1,000,000 secrets at the smallest page size a
/// backend here uses (Azure's 25) is 40,000 pages.
pub(crate) const MAX_PAGES: usize = 50_000;

/// The most items one listing reads (more secrets than a keystore of this server holds).
pub(crate) const MAX_ITEMS: usize = 1_000_000;

/// Pages and items read so far by one listing.
#[derive(Debug)]
pub(crate) struct ListBudget {
    backend: &'static str,
    pages: usize,
    items: usize,
    max_pages: usize,
    max_items: usize,
}

impl ListBudget {
    /// A fresh budget for one listing of `backend` (named in the error).
    pub(crate) fn new(backend: &'static str) -> Self {
        Self::with_limits(backend, MAX_PAGES, MAX_ITEMS)
    }

    fn with_limits(backend: &'static str, max_pages: usize, max_items: usize) -> Self {
        Self {
            backend,
            pages: 0,
            items: 0,
            max_pages,
            max_items,
        }
    }

    /// Charges one page holding `items` items: an error once either bound is passed.
    pub(crate) fn charge(&mut self, items: usize) -> Result<(), Error> {
        self.pages = self.pages.saturating_add(1);
        self.items = self.items.saturating_add(items);
        if self.pages > self.max_pages || self.items > self.max_items {
            return Err(Error::backend(format!(
                "{}: listing stopped after {} pages and {} items: the backend keeps returning \
                 further pages (at most {} pages or {} items are read)",
                self.backend, self.pages, self.items, self.max_pages, self.max_items
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bounded() {
        let mut budget = ListBudget::with_limits("aws", 3, 100);
        for _ in 0..3 {
            assert!(budget.charge(0).is_ok());
        }
        let err = budget.charge(0).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "keystore error: aws: listing stopped after 4 pages and 0 items: the backend keeps returning \
                 further pages (at most 3 pages or 100 items are read)"
            )
        );
    }

    #[test]
    fn items_are_bounded() {
        let mut budget = ListBudget::with_limits("gcp", 10, 5);
        assert!(budget.charge(5).is_ok());
        assert!(budget.charge(1).is_err());
    }

    #[test]
    fn defaults_hold_a_large_keystore() {
        let mut budget = ListBudget::new("azure");
        // 1,000,000 secrets at Azure's 25 per page.
        for _ in 0..40_000 {
            assert!(budget.charge(25).is_ok());
        }
        assert!(budget.charge(1).is_err());
    }
}
