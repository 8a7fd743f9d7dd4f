//! Detecting personal data (fiscal number, NIR, IBAN, phone, e-mail, postal address,
//! names) and producing the pseudonymised copy that logs and models see.
