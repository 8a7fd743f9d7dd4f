//! Understanding French (and English) mail text short of the classifier: separates the
//! new text from quoted history, forwarded chains, greetings, closings and signatures
//! (keeping every part labelled), guesses the language, extracts fields (tax year,
//! references, amounts, dates) and flags sensitive mail (complaint, deadline, distress).
