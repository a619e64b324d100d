"""poft.attacks"""
