from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("add/", views.add, name="add"),
    path("info/", views.info, name="info"),
    path("fail/", views.fail, name="fail"),
]
