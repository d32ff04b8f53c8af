"use client";
import { useRouter } from "next/navigation";
import { FormError } from "@/app/_components/form";
import { useAction } from "@/app/_components/use-action";
import { setPricesAction } from "./actions";

/** A destination's price overrides (CLASS=price in USD per GB-month); empty restores the list prices. */
export function PricesForm({
  slug,
  destinationId,
  name,
  prices,
}: {
  slug: string;
  destinationId: string;
  name: string;
  prices: string;
}) {
  const router = useRouter();
  const save = useAction(setPricesAction.bind(null, slug), () => router.refresh());
  return (
    <form
      className="flex flex-wrap items-end gap-2"
      aria-label={`Prices of ${name}`}
      onSubmit={(e) => {
        e.preventDefault();
        save.run({ destinationId, prices: (e.currentTarget.elements.namedItem("prices") as HTMLInputElement).value });
      }}
    >
      <label className="grow text-sm">
        <span className="label">Prices for {name} (USD per GB-month)</span>
        <input name="prices" className="input" defaultValue={prices} placeholder="list prices; e.g. STANDARD=0.021" />
      </label>
      <button className="btn-secondary" disabled={save.pending}>
        Save prices
      </button>
      <FormError error={save.error} />
    </form>
  );
}
