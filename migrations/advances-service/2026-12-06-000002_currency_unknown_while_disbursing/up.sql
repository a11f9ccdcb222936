-- An advance made while accounts-manager could not be reached does not know
-- its account's currency until the payout's deposit answers: NULL until
-- then, rather than a guess. Every advance paid out has its currency.
ALTER TABLE advances ALTER COLUMN currency DROP NOT NULL;
ALTER TABLE advances ADD CONSTRAINT advances_currency_once_paid_out
    CHECK (currency IS NOT NULL OR status = 'disbursing');
