-- The company a contact works for (seed 002's contacts carry it beside name, phone and email).
ALTER TABLE contacts ADD COLUMN company text CHECK (char_length(company) BETWEEN 1 AND 200);
