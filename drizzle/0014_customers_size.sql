-- Every derivation that writes a row changes an indexed column (next_review_at, net_revenue,
-- last_order_at, a score), so no such update is HOT (0% of a day-later refresh's updates in
-- bench/RESULTS.md) and the free tenth of each page only made the table a tenth larger. Pages
-- written from now on are filled; an existing table keeps its free space until it is rewritten.
ALTER TABLE "customers" SET (fillfactor = 100);--> statement-breakpoint
-- A listing filter on tier, rfm_segment, abc_class or the scores is one value, never null: the
-- prospects (null in all of them) are left out of those indexes.
DROP INDEX "customers_tier_idx";--> statement-breakpoint
DROP INDEX "customers_rfm_segment_idx";--> statement-breakpoint
DROP INDEX "customers_abc_idx";--> statement-breakpoint
DROP INDEX "customers_rf_revenue_idx";--> statement-breakpoint
CREATE INDEX "customers_tier_idx" ON "customers" USING btree ("tier","id") WHERE "customers"."tier" is not null;--> statement-breakpoint
CREATE INDEX "customers_rfm_segment_idx" ON "customers" USING btree ("rfm_segment","id") WHERE "customers"."rfm_segment" is not null;--> statement-breakpoint
CREATE INDEX "customers_abc_idx" ON "customers" USING btree ("abc_class","id") WHERE "customers"."abc_class" is not null;--> statement-breakpoint
CREATE INDEX "customers_rf_revenue_idx" ON "customers" USING btree ("r_score","f_score","net_revenue","id") WHERE "customers"."r_score" is not null;