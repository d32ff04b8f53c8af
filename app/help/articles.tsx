import Link from "next/link";

/**
 * The in-app help: the articles the product grew from (encrypted backups, on-demand backups,
 * schedules, upload and download) plus restore and verify, written for the screens as they are.
 * e2e/help.spec.ts opens each article beside the page it explains and checks the buttons and
 * fields it names are there, so a renamed control fails the test instead of leaving a stale article.
 */
export interface Article {
  slug: string;
  title: string;
  summary: string;
  body: React.ReactNode;
}

const Steps = ({ children }: { children: React.ReactNode }) => (
  <ol className="list-decimal space-y-2 pl-5">{children}</ol>
);
const Points = ({ children }: { children: React.ReactNode }) => (
  <ul className="list-disc space-y-2 pl-5">{children}</ul>
);
const H = ({ children }: { children: React.ReactNode }) => <h2 className="mt-6 text-lg font-semibold">{children}</h2>;
const A = ({ slug, children }: { slug: string; children: React.ReactNode }) => (
  <Link className="text-indigo-600 hover:underline dark:text-indigo-400" href={`/help/${slug}`}>
    {children}
  </Link>
);

export const articles: Article[] = [
  {
    slug: "encryption",
    title: "Encrypted backups",
    summary: "Why backups are encrypted, how Coffer does it, and how you get your data back.",
    body: (
      <>
        <p>
          A backup holds database contents, application files and configuration with credentials. If a copy is exposed
          (a bucket with the wrong permissions, a compromised server), encryption keeps it unreadable.
        </p>
        <H>How it works</H>
        <Points>
          <li>Every backup gets its own random 256-bit data key.</li>
          <li>
            The archive is encrypted with it as it streams, with AES-256-GCM in 1 MiB segments, each one authenticated.
          </li>
          <li>
            The data key is encrypted with Coffer&apos;s master key and stored in the object&apos;s header and with the
            backup. Stored credentials are sealed with the same AES-256-GCM scheme.
          </li>
          <li>
            The encrypted object is what lands on the server&apos;s disk and in S3, Google Cloud Storage or Azure Blob.
          </li>
        </Points>
        <H>Turning it on</H>
        <p>
          <strong>Encrypted</strong> is on by default in <A slug="back-up-now">Back up now</A>, in every{" "}
          <A slug="schedules">schedule</A> and when you upload a backup. Nothing else is needed: Coffer encrypts and
          decrypts for you.
        </p>
        <H>What success looks like</H>
        <p>
          The backup shows an <strong>Encrypted</strong> badge in the Backups list, naming its format.{" "}
          <strong>Download</strong> gives you an ordinary, decrypted <code>.tar.gz</code>; no key to enter.
        </p>
        <H>Without Coffer</H>
        <p>
          An encrypted object can be opened without Coffer&apos;s database by whoever holds the master key, with{" "}
          <code>npx coffer decrypt</code> from Coffer&apos;s repository (the format is described in its{" "}
          <code>docs/FORMAT.md</code>). Without the master key nobody can read it: keep a copy of the master keys
          somewhere safe, apart from the backups. If a backup must be readable by other tools without any key, turn
          Encrypted off for it.
        </p>
        <H>Readable with GnuPG alone</H>
        <p>
          The <strong>Encryption format</strong> beside Encrypted offers <strong>OpenPGP: team keys</strong> once an
          admin has added the team&apos;s public keys (Settings → OpenPGP keys). Such a backup is one standard OpenPGP
          message, encrypted to every team key and to Coffer: whoever holds one of the private keys restores it with{" "}
          <code>gpg --decrypt</code> and <code>tar</code>, and Coffer still downloads, verifies and restores it. Its
          badge says <strong>Encrypted: OpenPGP: team keys</strong>; Coffer&apos;s own format says{" "}
          <strong>Encrypted: Coffer key</strong>.
        </p>
      </>
    ),
  },
  {
    slug: "back-up-now",
    title: "Create an on-demand backup",
    summary: "Back up a server's databases and folders right now, before a deploy or a risky change.",
    body: (
      <>
        <p>You need a server with at least one source (a PostgreSQL database or a folder) and a storage destination.</p>
        <Steps>
          <li>
            Open the server (Servers) or a schedule (Schedules) and choose <strong>Back up now</strong>.
          </li>
          <li>
            Under <strong>Sources</strong>, tick what to back up (all of the server&apos;s sources by default; a
            schedule&apos;s own when started from a schedule).
          </li>
          <li>
            Under <strong>Destinations</strong>, tick where to store it. One stream is written to every destination at
            once.
          </li>
          <li>
            Pick the <strong>Compression</strong>: Fast (the default), Balanced or Small. Each makes ordinary gzip with
            the fastest tool the server has for it; the option says which tools it uses.
          </li>
          <li>
            Leave <strong>Encrypted</strong> on unless the file must be readable without Coffer (
            <A slug="encryption">why</A>).
          </li>
          <li>
            Tick <strong>Verify it when it is done</strong> to have it restored into a scratch database and checked
            against its manifest (<A slug="restore-verify">how</A>). On a schedule&apos;s card this follows the
            schedule&apos;s own setting.
          </li>
          <li>
            Choose <strong>Start backup</strong>. The run page shows bytes so far, the rate, the run log and a{" "}
            <strong>Cancel</strong> button.
          </li>
        </Steps>
        <H>What you get</H>
        <p>
          One <code>.tar.gz</code> with <code>manifest.json</code> first (every file&apos;s size and SHA-256, every
          table&apos;s row count), each database as a plain SQL dump in <code>postgres/</code>, and folders under{" "}
          <code>files/</code>. A run that fails or is cancelled removes what it wrote and says why.
        </p>
      </>
    ),
  },
  {
    slug: "schedules",
    title: "Configure backup schedules",
    summary: "Back up automatically, keep the right backups for the right time, and prove they restore.",
    body: (
      <>
        <Steps>
          <li>
            On Schedules, open <strong>New schedule</strong> and give it a <strong>Schedule name</strong>.
          </li>
          <li>
            Choose the <strong>Server</strong>, its <strong>Sources</strong> and the <strong>Destinations</strong>.
          </li>
          <li>
            Under <strong>Runs</strong>, choose hourly, daily, weekly, monthly or a cron expression, and the{" "}
            <strong>Time zone</strong> it is read in (daylight-saving changes included).
          </li>
          <li>
            Set the retention: how many daily, weekly, monthly (and yearly) backups to keep. When you edit a schedule
            later, <strong>Preview</strong> lists which existing backups a change would remove before you save it.
          </li>
          <li>
            Keep <strong>Verify each backup</strong> on to have every backup restored into a scratch database and
            checked (<A slug="restore-verify">how</A>).
          </li>
          <li>
            Choose <strong>Create schedule</strong>. The schedule shows when it runs in words and its next three runs;
            pause and resume it there.
          </li>
        </Steps>
        <H>Retention</H>
        <p>
          For each rule Coffer keeps the newest backup of each of the last N days, weeks, months or years, in the
          schedule&apos;s time zone; older copies move to colder storage classes as they age. A backup no rule keeps
          goes to the trash for the team&apos;s grace period before its copies are deleted. The latest successful and
          the latest verified backup are never removed.
        </p>
      </>
    ),
  },
  {
    slug: "upload-download",
    title: "Upload and download backups",
    summary: "Take a backup out of Coffer as a .tar.gz, or bring an existing archive in.",
    body: (
      <>
        <H>Download</H>
        <Steps>
          <li>Open the backup from the Backups list.</li>
          <li>
            Choose <strong>Download</strong>. Encrypted backups are decrypted on the way: you get the plain{" "}
            <code>.tar.gz</code>, from the fastest copy Coffer has.
          </li>
        </Steps>
        <p className="mt-2">
          A copy that fails its integrity check stops the download, so the browser reports it failed rather than keeping
          a damaged file. Copies in archive storage classes must be retrieved first: Download then asks the provider for
          a readable copy and says when it will be ready. Members and above can download; every download is in the audit
          log.
        </p>
        <H>Upload</H>
        <Steps>
          <li>
            On Backups, open <strong>Upload a backup</strong>.
          </li>
          <li>Choose the server it belongs to, the destinations, and whether to encrypt it.</li>
          <li>Choose the file. It is checked (gzip intact, a tar inside) and stored while it streams in.</li>
        </Steps>
        <p className="mt-2">
          A file over the size limit, one that expands far beyond its size, or one that would pass the team&apos;s quota
          on Coffer&apos;s own disk is refused with a message naming the limit, and nothing is kept.
        </p>
      </>
    ),
  },
  {
    slug: "restore-verify",
    title: "Restore and verify backups",
    summary: "Put a database or folders back, or prove a backup restores, without touching production.",
    body: (
      <>
        <p>
          Open a succeeded backup and choose <strong>Restore or verify</strong>. The page lists what is inside and every
          earlier restore and verification of it.
        </p>
        <H>Restore a database</H>
        <Steps>
          <li>
            Under <strong>Restore a database</strong>, pick the database in the backup and where to restore it: any of
            the team&apos;s servers, through one of its PostgreSQL connections.
          </li>
          <li>
            A new database is the default. Replacing an existing one asks for its name typed again and takes a safety
            backup of it first.
          </li>
          <li>
            The dump loads into a scratch database and is checked against the manifest; only when every statement
            succeeded is it renamed into place. A failure leaves your database as it was.
          </li>
        </Steps>
        <H>Restore folders</H>
        <p>
          Under <strong>Restore folders</strong>, choose the server and the folder to restore under; files keep their
          original path beneath it. Entries that would write outside it refuse the whole restore.
        </p>
        <H>Verify</H>
        <p>
          <strong>Verify now</strong> restores every database of the backup into a scratch database, compares every
          table&apos;s row count and every file&apos;s size and SHA-256 with the manifest, records the result and drops
          the scratch database. The Backups list shows <strong>Verified</strong> or <strong>Verification failed</strong>
          . <A slug="schedules">Schedules</A> verify each backup by default.
        </p>
      </>
    ),
  },
];

export const articleBySlug = (slug: string) => articles.find((a) => a.slug === slug);
