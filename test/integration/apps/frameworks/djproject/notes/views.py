import os
import sys

from django.http import JsonResponse
from django.shortcuts import redirect, render

from .forms import NoteForm
from .models import Note

TITLE = "Notes"


def index(request):
    return render(request, "notes/index.html", {"title": TITLE, "notes": Note.objects.all()})


def add(request):
    if request.method == "POST":
        form = NoteForm(request.POST)
        if form.is_valid():
            form.save()
            return redirect("index")
    else:
        form = NoteForm()
    return render(request, "notes/add.html", {"form": form})


def info(request):
    """What the tests check about the process: which interpreter, and
    that the model class is the one the app registry has."""
    from django.apps import apps
    return JsonResponse({
        "pid": os.getpid(),
        "script_name": request.META.get("SCRIPT_NAME"),
        "path_info": request.path_info,
        "path": request.path,
        "model_registered": apps.get_model("notes", "Note") is Note,
        "modules": len(sys.modules),
    })


def fail(request):
    raise RuntimeError("a view that fails")
