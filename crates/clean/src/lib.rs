//! Cleaning French (and English) mail text: separates the new text from quoted
//! history, forwarded chains, greetings, closings and signatures, keeping every part
//! labelled; and guesses the language of the new text.
