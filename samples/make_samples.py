"""Write the sample payout sheets in samples/ (run: python samples/make_samples.py).

Every phone in the clean samples is checked against phonenumbers: a valid MOBILE number of
Liberia or Rwanda. The messy sheet breaks each validation rule at least once.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import openpyxl
import phonenumbers
from openpyxl.styles import Font

HERE = Path(__file__).resolve().parent

LIBERIA = [
    # employee id, name, phone as the payroll clerk typed it, net pay, currency, email, note
    ("LIB-001", "Musu Dolo", "0770 123 456", "1,250.00", "USD", "musu.dolo@example.lr", ""),
    ("LIB-002", "Sando Kollie", "+231 88 612 3456", "850.00", "USD", "", "field officer"),
    ("LIB-003", "Comfort Flomo", "0886 220 145", "45,000.00", "LRD", "", ""),
    ("LIB-004", "Emmanuel Togba", "231776543210", "1,100.50", "USD", "e.togba@example.lr", ""),
    ("LIB-005", "Korpo Gbessay", "0555 301 778", "38,500.00", "LRD", "", ""),
    ("LIB-006", "Prince Kpadeh", "00231 77 890 1122", "975.00", "USD", "", "driver"),
    ("LIB-007", "Fatu Kamara", "0881 404 567", "52,250.00", "LRD", "", ""),
    ("LIB-008", "Garmai Sumo", "0778 009 321", "1,400.00", "USD", "garmai.sumo@example.lr", ""),
    ("LIB-009", "Nyema Dahn", "0887 765 432", "610.25", "USD", "", ""),
    ("LIB-010", "Jartu Wesseh", "0779 112 233", "41,800.00", "LRD", "", "nurse aide"),
    ("LIB-011", "Samuel Zuo", "+231 555 987 654", "720.00", "USD", "", ""),
    ("LIB-012", "Abraham Flomo", "0775 246 810", "1,050.00", "USD", "", ""),
    ("LIB-013", "Mercy Tarr", "0884 135 790", "36,000.00", "LRD", "mercy.tarr@example.lr", ""),
    ("LIB-014", "Alfred Toe", "0771 357 913", "890.75", "USD", "", "security"),
    ("LIB-015", "Victoria Saye", "0886 975 310", "47,500.00", "LRD", "", ""),
    ("LIB-016", "Patience Zinnah", "0772 468 024", "1,325.00", "USD", "", ""),
    ("LIB-017", "Oretha Kpoto", "0555 864 209", "39,900.00", "LRD", "", ""),
    ("LIB-018", "Moses Gaye", "0776 102 938", "760.00", "USD", "moses.gaye@example.lr", ""),
    ("LIB-019", "Esther Wleh", "0880 564 738", "44,250.00", "LRD", "", ""),
    ("LIB-020", "Joseph Nyenpan", "0773 019 283", "1,180.00", "USD", "", "accountant"),
    ("LIB-021", "Yassah Kamara", "0888 746 501", "35,750.00", "LRD", "", ""),
    ("LIB-022", "Lawrence Gbor", "0774 655 443", "930.00", "USD", "", ""),
    ("LIB-023", "Deborah Pewee", "0885 332 211", "50,000.00", "LRD", "", ""),
    ("LIB-024", "Hawa Kiazolu", "0777 889 900", "1,005.00", "USD", "hawa.k@example.lr", ""),
    ("LIB-025", "Boima Fahnbulleh", "0889 101 202", "42,600.00", "LRD", "", "mechanic"),
]

RWANDA = [
    ("RW-101", "Jean Claude Habimana", "0788 123 456", "250,000"),
    ("RW-102", "Aline Uwase", "0722 456 789", "180,000"),
    ("RW-103", "Eric Niyonzima", "+250 79 234 5678", "215,500"),
    ("RW-104", "Diane Mukamana", "0733 987 654", "165000"),
    ("RW-105", "Patrick Nshimiyimana", "0789 345 678", "300,000"),
    ("RW-106", "Grace Uwimana", "250782468135", "142,750"),
    ("RW-107", "Olivier Mugisha", "0728 135 246", "198,000"),
    ("RW-108", "Claudine Ingabire", "0795 864 213", "176,250"),
    ("RW-109", "Emmanuel Hakizimana", "0787 654 321", "205,000"),
    ("RW-110", "Josiane Umutoni", "0731 112 358", "158,400"),
    ("RW-111", "Innocent Ndayisaba", "0784 271 828", "233,000"),
    ("RW-112", "Chantal Nyirahabimana", "0726 314 159", "189,900"),
]

EXCEL_ROWS = [
    # name, phone as Excel keeps a typed number (a float), net salary, currency
    ("Kebeh Johnson", 231770555101, 1250.0, "USD"),
    ("Tarnue Mulbah", 231886555202, 980.5, "USD"),
    ("Siah Harris", 231555555303, 46000.0, "LRD"),
    ("Kou Yekeh", 231778555404, 1500.0, "USD"),
    ("Mulbah Kpehe", 231880555505, 52500.75, "LRD"),
    ("Wede Dolo", 231775555606, 1125.25, "USD"),
    ("Gbessie Tokpah", 231887555707, 39000.0, "LRD"),
    ("Arthur Kolubah", 231779555808, 845.0, "USD"),
]

# (note on what breaks, name, phone, amount, currency, country, employee id, email)
MESSY = [
    ("fine", "Musu Dolo", "0770 123 456", "1,250.00", "USD", "LR", "M-01", ""),
    ("name missing", "", "0886 220 145", "900.00", "USD", "LR", "M-02", ""),
    ("phone is not a number", "Sando Kollie", "call Sando", "700.00", "USD", "LR", "M-03", ""),
    ("scientific notation", "Comfort Flomo", "2.31776E+11", "650.00", "USD", "LR", "M-04", ""),
    ("fixed-line number", "Emmanuel Togba", "+231 21 234 567", "800.00", "USD", "LR", "M-05", ""),
    ("Ghana number", "Kofi Mensah", "+233 24 123 4567", "500.00", "USD", "LR", "M-06", ""),
    ("country unsupported", "Amaka Obi", "0771 234 567", "400.00", "USD", "NG", "M-07", ""),
    ("RW phone, LR row", "Aline Uwase", "+250 78 812 3456", "300.00", "USD", "LR", "M-08", ""),
    ("currency missing", "Korpo Gbessay", "0555 301 778", "38,500.00", "", "LR", "M-09", ""),
    ("currency unsupported", "Prince Kpadeh", "0778 901 122", "975.00", "EUR", "LR", "M-10", ""),
    ("RWF in Liberia", "Fatu Kamara", "0881 404 567", "52250", "RWF", "LR", "M-11", ""),
    ("amount not a number", "Garmai Sumo", "0778 009 321", "one thousand", "USD", "LR", "M-12", ""),
    ("amount zero", "Nyema Dahn", "0887 765 432", "0.00", "USD", "LR", "M-13", ""),
    ("amount negative", "Jartu Wesseh", "0779 112 233", "-150.00", "USD", "LR", "M-14", ""),
    ("too many decimals", "Samuel Zuo", "+231 555 987 654", "720.125", "USD", "LR", "M-15", ""),
    ("decimals in RWF", "Eric Niyonzima", "0792 345 678", "15000.50", "RWF", "RW", "M-16", ""),
    ("email malformed", "Mercy Tarr", "0884 135 790", "360.00", "USD", "LR", "M-17", "mercy@"),
    ("duplicate phone (1)", "Alfred Toe", "0771 357 913", "890.75", "USD", "LR", "M-18", ""),
    ("duplicate phone (2)", "Alfred Toe Jr", "+231 77 135 7913", "120.00", "USD", "LR", "M-19", ""),
    ("duplicate id (1)", "Victoria Saye", "0886 975 310", "475.00", "USD", "LR", "M-20", ""),
    ("duplicate id (2)", "Oretha Kpoto", "0555 864 209", "399.00", "USD", "LR", "M-20", ""),
    ("above --max-amount 5000", "Moses Gaye", "0776 102 938", "7,600.00", "USD", "LR", "M-21", ""),
    ("local number, no country", "Esther Wleh", "0880 564 738", "442.50", "USD", "", "M-22", ""),
    # A whole row pasted into the name cell: no name is 200+ characters long.
    ("name too long", "Joseph Nyenpan " + "accountant, Monrovia office, " * 8, "0773 019 283",
     "1,180.00", "USD", "LR", "M-24", ""),
]


def _check_mobile(phone: str, region: str | None) -> None:
    number = phonenumbers.parse(phone, region)
    kind = phonenumbers.number_type(number)
    assert phonenumbers.is_valid_number(number), phone
    assert kind == phonenumbers.PhoneNumberType.MOBILE, (phone, kind)


def write_liberia(path: Path) -> None:
    """A clean Liberian payroll in USD and LRD, with an employee id column."""
    header = [
        "Employee ID",
        "Full Name",
        "MoMo Number",
        "Net Pay",
        "Currency",
        "Country",
        "Email",
        "Note",
    ]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for emp, name, phone, pay, ccy, email, note in LIBERIA:
            _check_mobile(phone, "LR")
            writer.writerow([emp, name, phone, pay, ccy, "LR", email, note])


def write_liberia_next(path: Path) -> None:
    """Next month's Liberian payroll with what a checker must look at (README "Two-person
    release"): a new name nobody knows, a changed phone, a raise, a leaver."""
    header = ["Employee ID", "Full Name", "MoMo Number", "Net Pay", "Currency", "Country"]
    changes = {
        "LIB-008": (None, "0776 231 450", None),  # Garmai Sumo's pay goes to another phone
        "LIB-018": (None, None, "800.00"),  # a raise from 760.00
    }
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for emp, name, phone, pay, ccy, _email, _note in LIBERIA:
            if emp == "LIB-022":  # left the company
                continue
            new_name, new_phone, new_pay = changes.get(emp, (None, None, None))
            phone = new_phone or phone
            _check_mobile(phone, "LR")
            writer.writerow([emp, new_name or name, phone, new_pay or pay, ccy, "LR"])
        ghost = ("LIB-026", "Peter Gbarbea", "0777 450 118", "1,350.00", "USD")
        _check_mobile(ghost[2], "LR")
        writer.writerow([*ghost, "LR"])


def write_rwanda(path: Path) -> None:
    """A clean Rwandan payroll in RWF (Excel-style ';' separated, UTF-8 with BOM)."""
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["Staff ID", "Beneficiary", "Phone Number", "Amount", "Ccy", "Country"])
        for staff, name, phone, amount in RWANDA:
            _check_mobile(phone, "RW")
            writer.writerow([staff, name, phone, amount, "RWF", "Rwanda"])


def write_excel(path: Path) -> None:
    """An Excel payroll with a title block, numbers stored as numbers, and a totals row."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "November 2026"
    sheet["A1"] = "Gbarnga Agro Cooperative — Payroll, November 2026"
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = "Prepared by Finance · mobile money"
    sheet.append([])
    sheet.append(["No.", "Employee Name", "Phone Number", "Net Salary", "Currency"])
    for cell in sheet[4]:
        cell.font = Font(bold=True)
    for index, (name, phone, pay, ccy) in enumerate(EXCEL_ROWS, start=1):
        _check_mobile(f"+{phone}", None)
        sheet.append([index, name, phone, pay, ccy])
        sheet.cell(sheet.max_row, 3).number_format = "0"
        sheet.cell(sheet.max_row, 4).number_format = "#,##0.00"
    total = sum(Decimal(str(pay)) for _, _, pay, _ in EXCEL_ROWS)
    sheet.append(["TOTAL", None, None, float(total), None])
    sheet.cell(sheet.max_row, 4).number_format = "#,##0.00"
    sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    book.create_sheet("Notes").append(["Approved by the board on 25 November 2026"])
    book.save(path)


def write_hidden(path: Path) -> None:
    """An HR export that hides things from whoever checks it in Excel (issue 16): row 10 is
    hidden (LRD 77,013.91), column F is hidden, one amount is a formula showing #REF!, one a
    formula Excel never saved a value for, one shows 1,101 but holds 1,100.5, the footer has
    merged "Prepared by" and "Approved by" lines. `paybatch validate` names each cell."""
    import xlsxwriter  # writes formulas with the value Excel would have saved

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Staff")
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0.00"})
    whole = book.add_format({"num_format": "#,##0"})
    sheet.write_row(0, 0, ["Employee ID", "Name", "Phone", "Amount", "Currency", "Bonus"], bold)
    sheet.set_column(0, 4, 16)
    sheet.set_column(5, 5, 10, None, {"hidden": True})
    for r, (emp, name, phone, pay, ccy, _, _) in enumerate(LIBERIA[:11], start=1):
        _check_mobile(phone, "LR")
        sheet.write_string(r, 0, emp)
        sheet.write_string(r, 1, name)
        sheet.write_string(r, 2, phone)
        sheet.write_number(r, 3, float(_plain(pay)), money)
        sheet.write_string(r, 4, ccy)
        sheet.write_number(r, 5, 0)
    sheet.write_formula(3, 3, "=#REF!*1", money, "#REF!")  # D4: a deleted cell's reference
    sheet.write_formula(5, 3, "=850*1", money, "")  # D6: a formula with no saved value
    sheet.write_number(7, 3, 1100.5, whole)  # D8: shows 1,101, holds 1,100.5
    sheet.write_number(9, 3, 77013.91, money)  # D10 (hidden row): LRD 77,013.91
    sheet.write_string(9, 4, "LRD")
    sheet.set_row(9, None, None, {"hidden": True})
    sheet.merge_range(13, 0, 13, 4, "Prepared by: J. Kollie, HR, 28 November 2026")
    sheet.merge_range(14, 0, 14, 4, "Approved by: M. Dolo, Finance")
    book.close()


def write_messy(path: Path) -> None:
    """A sheet breaking every rule once, with a blank row and a trailing totals row."""
    header = [
        "Problem shown",
        "Name",
        "Mobile",
        "Amount",
        "Currency",
        "Country",
        "Staff ID",
        "Email",
    ]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for index, row in enumerate(MESSY):
            writer.writerow(row)
            if index == 5:
                writer.writerow([""] * len(header))  # a blank row inside the data
        # A hand-edited line with an unquoted comma: its amount spills into the next column.
        out.write("unquoted comma,Lorpu Gbanyan,0777 210 987,1,250.00,USD,LR,M-23,\r\n")
        total = sum(_plain(row[3]) for row in MESSY) + 1  # the spilled row reads as 1
        writer.writerow(["Total", "", "", f"{total:,}", "", "", "", ""])


def _plain(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", ""))
    except ArithmeticError:
        return Decimal(0)
    return value if value > 0 else Decimal(0)


def main() -> None:
    """Write all samples next to this script."""
    write_liberia(HERE / "payroll_liberia.csv")
    write_liberia_next(HERE / "payroll_liberia_next.csv")
    write_rwanda(HERE / "payroll_rwanda.csv")
    write_excel(HERE / "payroll_excel.xlsx")
    write_messy(HERE / "payroll_messy.csv")
    write_hidden(HERE / "payroll_hidden.xlsx")


if __name__ == "__main__":
    main()
