"""Rebuild `fr_07_formulaire_pdf.eml`: a claim whose fields live only in a PDF form (fpdf2).

The mail and its label were written by hand; this script only renders the form as a PDF
with a text layer and wraps it in the message, so the committed .eml can be regenerated:

    .venv/bin/python tests/data/mail/labelled/make_pdf_claim.py
"""

from __future__ import annotations

import base64
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

HERE = Path(__file__).resolve().parent

FORM = [
    ("Numéro de contrat", "8 811 632"),
    ("Assuré", "Mme Hélène Marchand"),
    ("Téléphone", "06 84 12 57 39"),
    ("Date du sinistre", "11/10/2026"),
    ("Lieu", "Parking de la gare, Angers"),
    ("Nature du sinistre", "Bris de glace - vitre latérale arrière brisée"),
    ("Montant estimé", "312,00 EUR TTC"),
]


def form_pdf() -> bytes:
    pdf = FPDF()
    pdf.set_creation_date(datetime(2026, 10, 12, 20, 0, tzinfo=UTC))  # reproducible bytes
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 10, "DÉCLARATION DE SINISTRE AUTOMOBILE", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 8, "À retourner à votre assureur sous 5 jours ouvrés.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for label, value in FORM:
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(60, 8, f"{label} :")
        pdf.set_font("Helvetica", "", 11)
        pdf.cell(0, 8, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.multi_cell(0, 6, "Circonstances : en revenant à mon véhicule le soir, j'ai constaté que la vitre "
                         "arrière gauche avait été brisée. Rien n'a été dérobé.")
    pdf.ln(2)
    pdf.cell(0, 8, "Fait à Angers, le 12/10/2026. Signature : H. Marchand", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def main() -> None:
    data = base64.encodebytes(form_pdf()).decode("ascii")
    head = textwrap.dedent("""\
        From: Hélène Marchand <helene.marchand@laposte.net>
        To: sinistres@assureur-exemple.fr
        Subject: =?utf-8?q?D=C3=A9claration_de_sinistre?=
        Date: Tue, 13 Oct 2026 09:02:11 +0200
        Message-ID: <marchand-pdf-131026@laposte.net>
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="pdf-b"

        --pdf-b
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: 8bit

        Bonjour,

        Veuillez trouver ci-joint ma déclaration remplie.

        H. Marchand

        --pdf-b
        Content-Type: application/pdf; name="declaration_sinistre.pdf"
        Content-Disposition: attachment; filename="declaration_sinistre.pdf"
        Content-Transfer-Encoding: base64

        """)
    (HERE / "fr_07_formulaire_pdf.eml").write_bytes((head + data + "--pdf-b--\n").encode("utf-8"))


if __name__ == "__main__":
    main()
