ALTER TABLE contacts DROP COLUMN company;
