//! Field ownership (`managedFields`) and server-side apply.

pub(crate) mod apply;
pub(crate) mod fieldset;
pub(crate) mod managed;
